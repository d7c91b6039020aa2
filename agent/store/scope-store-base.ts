/**
 * What both scope stores (disk and memory) answer from their {@link ScopeIndex}: lookups, the
 * per-handle fields, heads, horizon and gap markers. They differ only in where bytes live and
 * how changes are made durable, so they extend this.
 */
import type { CommandV2 } from '../../protocol/command-v2.js';
import type { CommandKindValue } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { GapRecord, HorizonEntry, ScopeStoreReader } from './scope-store-contract.js';
import { ScopeIndex } from './scope-index.js';
import { StoreError } from './store-errors.js';

/** Base of the scope stores. */
export abstract class ScopeStoreBase implements ScopeStoreReader {
  /** The scope id, a private copy. */
  readonly scopeId: Uint8Array;

  constructor(
    scopeId: Uint8Array,
    /** The in-memory state, exposed for walks and memory reports. */
    readonly state: ScopeIndex,
  ) {
    this.scopeId = scopeId.slice();
  }

  /** The directory or file errors name; undefined for a memory store. */
  protected abstract readonly location: string | undefined;
  abstract bytesOf(h: number): Uint8Array;

  /**
   * The append preconditions both stores share: the handle of `cmd` when it is retained (append
   * is idempotent), -1 when it is a horizon entry or was pruned here and its slot is not yet
   * repacked away (never taken back), else its resolved parents. Once a repack (or an open) has
   * dropped a pruned id, that command is refused only through its parents being gone.
   * @throws StoreError 'missing-parent' when a parent is neither retained nor a horizon entry.
   */
  protected placeOf(cmd: CommandV2): number | { slots: number[]; floor: number } {
    const have = this.state.find(cmd.id);
    if (have >= 0) return have;
    if (have === -2 || this.state.horizonEntry(cmd.id) !== undefined) return -1;
    const parents = this.state.resolve(cmd);
    if (parents === null) throw new StoreError('missing-parent', this.location, `append ${toHex(cmd.id)}: a parent is neither held nor in the horizon`);
    return parents;
  }

  /** The error of an operation after close. */
  protected closedError(): StoreError {
    return new StoreError('closed', this.location, 'scope store is closed');
  }

  get size(): number {
    return this.state.size;
  }

  get base(): number {
    return this.state.base;
  }

  indexOf(id: Uint8Array): number {
    return Math.max(-1, this.state.find(id));
  }

  isRetained(h: number): boolean {
    return this.state.isRetained(h);
  }

  idOf(h: number): Uint8Array {
    return this.state.ix.idOf(this.state.slot(h));
  }

  depthOf(h: number): number {
    return this.state.ix.depthOf(this.state.slot(h));
  }

  parentsOf(h: number): number[] {
    return this.state.parentsOf(h);
  }

  lengthOf(h: number): number {
    return this.state.ix.lengthOf(this.state.slot(h));
  }

  authorOf(h: number): { author: Uint8Array; seq: number } {
    return this.state.ix.authorOf(this.state.slot(h));
  }

  kindOf(h: number): CommandKindValue {
    return this.state.kindOf(h);
  }

  frontierOf(h: number): number {
    return this.state.frontierOf(h);
  }

  appendedAtS(h: number): number {
    return this.state.appendedAtS(h);
  }

  heads(): number[] {
    return this.state.heads();
  }

  horizon(): HorizonEntry[] {
    return this.state.horizon();
  }

  horizonEntry(id: Uint8Array): HorizonEntry | undefined {
    return this.state.horizonEntry(id);
  }

  gapsBefore(h: number): GapRecord[][] {
    return this.state.gapsBefore(h);
  }
}
