/**
 * What both scope stores (disk and memory) answer from their {@link ScopeIndex}: lookups, the
 * per-handle fields, heads, horizon and gap markers. They differ only in where bytes live and
 * how changes are made durable, so they extend this.
 */
import type { CommandV2 } from '../../protocol/command-v2.js';
import { CommandKind, type CommandKindValue } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { GapRecord, HorizonEntry, ScopeStoreReader } from './scope-store-contract.js';
import { ScopeIndex } from './scope-index.js';
import { StoreError } from './store-errors.js';

/**
 * Pruned data ids a store keeps refusing after its index repacked their slots away (design
 * v2-scopes.md §11.3): 4,096 ids, about 400 KiB per scope at most (hex keys in a Set).
 */
export const RECENTLY_PRUNED = 4096;

/** What a prune step records of each command it removes. */
interface PrunedInfo {
  author: Uint8Array;
  seq: number;
  /** The command id, hex. */
  id: string;
}

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

  /** Highest seq per author (hex fingerprint) among pruned commands (§11.3 "local seq after a restart"). */
  protected readonly prunedSeqs = new Map<string, number>();
  /**
   * Ids (hex) of the last {@link RECENTLY_PRUNED} data commands pruned here, oldest first (§11.3
   * "pruned history can come back"): refused by {@link placeOf} after the index repacked away
   * their slots. In memory only.
   */
  private readonly recentlyPruned = new Set<string>();

  /** See {@link ScopeStoreReader.prunedSeq}. */
  prunedSeq(author: Uint8Array): number {
    return this.prunedSeqs.get(toHex(author)) ?? 0;
  }

  /**
   * Before a prune step: the authors of every command it may prune — its `prune` list, the data
   * commands pinned below base now (a pinned head it does not pin again is pruned without being
   * listed) and the handles base moves past. O(handles pruned + pinned). Pass the result to {@link foldPruned} after the step (pruned commands are unreadable).
   */
  protected authorsBefore(plan: { readonly prune: readonly number[] }): Map<number, PrunedInfo> {
    const out = new Map<number, PrunedInfo>();
    const note = (h: number): void => {
      if (!this.state.isRetained(h) || this.state.kindOf(h) !== CommandKind.Data) return;
      const slot = this.state.slot(h);
      out.set(h, { ...this.state.ix.authorOf(slot), id: toHex(this.state.ix.idOf(slot)) });
    };
    for (const h of plan.prune) note(h);
    for (const h of this.state.pinnedDataList()) note(h);
    // Base moves past the highest pruned handle: anything between is pruned with it unless pinned.
    const top = plan.prune.reduce((m, h) => Math.max(m, h), -1);
    for (let h = this.state.base; h <= top; h++) if (!out.has(h)) note(h);
    return out;
  }

  /** After a prune step: fold the authors of the commands it pruned into {@link prunedSeqs}. */
  protected foldPruned(before: ReadonlyMap<number, PrunedInfo>): void {
    for (const [h, { author, seq, id }] of before) {
      if (this.state.isRetained(h)) continue;
      const k = toHex(author);
      if (seq > (this.prunedSeqs.get(k) ?? 0)) this.prunedSeqs.set(k, seq);
      this.recentlyPruned.add(id);
      if (this.recentlyPruned.size > RECENTLY_PRUNED) this.recentlyPruned.delete(this.recentlyPruned.values().next().value as string);
    }
  }

  /** Restore {@link prunedSeqs} from `horizon.bin` (at open). @internal */
  loadPrunedSeqs(list: readonly (readonly [Uint8Array, number])[]): void {
    for (const [a, q] of list) this.prunedSeqs.set(toHex(a), q);
  }

  /** {@link prunedSeqs} as `horizon.bin` stores it: `[author, seq]`, by author. */
  protected prunedSeqList(): Array<[Uint8Array, number]> {
    return [...this.prunedSeqs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, s]) => [Uint8Array.from(Buffer.from(k, 'hex')), s]);
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
    if (this.recentlyPruned.size > 0 && this.recentlyPruned.has(toHex(cmd.id))) return -1; // pruned before a repack (§11.3)
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

  /**
   * Retained handles below {@link base} (status `pinned`): the data heads pruning kept and the
   * membership commands there (never pruned). O(pinned), where counting handles below base one
   * by one would be O(base).
   */
  get pinnedCount(): number {
    const base = this.state.base;
    const members = this.state.members; // ascending
    let below = 0;
    while (below < members.length && members[below]! < base) below++;
    return this.state.pinnedDataList().length + below;
  }

  /**
   * Bytes of the retained commands' encodings when the store keeps that total as it goes (status
   * `bytes`); null when it would have to be summed (this default: the disk store does not track it).
   */
  get retainedBytes(): number | null {
    return null;
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
