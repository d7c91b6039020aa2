/**
 * The horizon and gap markers of a scope index (docs/design/v2-scopes.md §4.3, §4.6): entries for
 * commands held by no one here any more but named as parents, and the gap markers recorded before
 * handles. Both maps are created when first needed, and every getter returns copies.
 */
import { toHex } from '../../protocol/keys.js';
import type { GapRecord, HorizonEntry } from './scope-store-contract.js';

/** A deep copy of `e` (the index never shares its entries' bytes). */
export const copyEntry = (e: HorizonEntry): HorizonEntry => ({ id: e.id.slice(), depth: e.depth, frontier: e.frontier.map((f) => f.slice()) });

/** Horizon entries by id (hex) and gap markers by the handle they precede. */
export class ScopeHorizonState {
  protected hz: Map<string, HorizonEntry> | null = null;
  protected gaps: Map<number, GapRecord[][]> | null = null;

  /** The horizon, copies. */
  horizon(): HorizonEntry[] {
    return this.hz === null ? [] : [...this.hz.values()].map(copyEntry);
  }

  /** The horizon entry of `id` (a copy), else undefined. */
  horizonEntry(id: Uint8Array): HorizonEntry | undefined {
    const e = this.hz?.get(toHex(id));
    return e === undefined ? undefined : copyEntry(e);
  }

  /** Record a gap marker before handle `before`. */
  addGap(before: number, records: GapRecord[]): void {
    const gs = (this.gaps ??= new Map());
    const list = gs.get(before);
    if (list === undefined) gs.set(before, [records]);
    else list.push(records);
  }

  /** Gap markers recorded before handle `h`, copies. */
  gapsBefore(h: number): GapRecord[][] {
    return (this.gaps?.get(h) ?? []).map((g) => g.map((r) => ({ id: r.id.slice(), depth: r.depth })));
  }

  /** Drop gap markers that precede no retained command (on open, before pruned records). */
  dropGapsBefore(h: number): void {
    this.gaps?.delete(h);
  }

  /** Replace the horizon with copies of `entries`. */
  protected setHorizon(entries: readonly HorizonEntry[]): void {
    this.hz = entries.length === 0 ? null : new Map(entries.map((e) => [toHex(e.id), copyEntry(e)]));
  }
}
