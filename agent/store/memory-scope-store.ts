/**
 * A {@link ScopeStore} held in memory, for tests and simulations: the shared scope index plus one
 * growable buffer of encodings. Pruning forgets handles; their bytes stay in the buffer until the
 * index repacks (scope-index.ts), which copies the retained encodings into a buffer of their
 * exact size, so a bounded scope's buffer stays O(bound) too. Nothing survives the process.
 */
import type { CommandV2 } from '../../protocol/command-v2.js';
import type { AppendExtra, GapRecord, HorizonEntry, PrunePlan, ScopeOpenReport, ScopeStore } from './scope-store-contract.js';
import { MAX_GAP_RECORDS } from './log-format-v3.js';
import { ScopeIndex } from './scope-index.js';
import { ScopeStoreBase } from './scope-store-base.js';

/** The buffer of a store that holds nothing yet (shared: it is never written). */
const EMPTY = new Uint8Array(0);

/** Options of {@link MemoryScopeStore}. */
export interface MemoryScopeStoreOptions {
  /** Clock for `appendedAtS`, seconds. Default: `Date.now() / 1000`. */
  nowS?: () => number;
}

/** {@link ScopeStore} in memory; `sync()` resolves at once. */
export class MemoryScopeStore extends ScopeStoreBase implements ScopeStore {
  /** Always empty: a memory store starts with nothing. */
  readonly openReport: ScopeOpenReport = { commands: 0, truncatedBytes: 0, retained: 0, segments: 0, deletedSegments: 0, recoveredMembers: 0 };
  protected readonly location = undefined;
  private buf = EMPTY;
  private used = 0;
  /** Bytes of the retained commands' encodings (what a repacked buffer holds). */
  private live = 0;
  private closed = false;
  private readonly nowS: () => number;

  /** An empty store of the scope `scopeId` (32 bytes). */
  constructor(scopeId: Uint8Array, opts: MemoryScopeStoreOptions = {}) {
    super(scopeId, new ScopeIndex());
    this.nowS = opts.nowS ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Length of the encodings buffer (memory checks in tests): retained bytes plus what pruning left since the last repack, plus growth slack. */
  get bufferBytes(): number {
    return this.buf.length;
  }

  /** Bytes of the retained commands' encodings, kept as commands are appended and pruned. */
  override get retainedBytes(): number {
    return this.live;
  }

  /** A fresh copy. @throws RangeError for a pruned handle. */
  bytesOf(h: number): Uint8Array {
    const s = this.state.slot(h);
    const at = this.state.ix.offsetOf(s);
    return this.buf.slice(at, at + this.state.ix.lengthOf(s));
  }

  /** See {@link ScopeStore.append}. @throws StoreError 'missing-parent', 'closed'. */
  append(cmd: CommandV2, extra: AppendExtra): number {
    if (this.closed) throw this.closedError();
    const placed = this.placeOf(cmd);
    if (typeof placed === 'number') return placed;
    if (this.used + cmd.bytes.length > this.buf.length) {
      // Exact at first, then doubling: an idle scope holds its few encodings and no slack.
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.used + cmd.bytes.length));
      next.set(this.buf.subarray(0, this.used));
      this.buf = next;
    }
    const h = this.state.add(this.state.size, cmd, placed, extra.frontier, this.used, this.nowS());
    this.buf.set(cmd.bytes, this.used);
    this.used += cmd.bytes.length;
    this.live += cmd.bytes.length;
    return h;
  }

  /** Same as {@link append}: a memory append cannot fail part-way. */
  appendWritten(cmd: CommandV2, extra: AppendExtra): number {
    return this.append(cmd, extra);
  }

  /** See {@link ScopeStore.prune}; a repack of the index moves the retained encodings to a new buffer. */
  prune(plan: PrunePlan): Promise<void> {
    const authors = this.authorsBefore(plan);
    let freed = 0;
    for (const p of new Set(plan.prune)) if (this.state.isRetained(p)) freed += this.state.ix.lengthOf(this.state.slotOf(p));
    const from = this.buf;
    // Allocated at the first move: most prunes do not repack.
    const next = { buf: EMPTY, at: 0 };
    const move = (offset: number, length: number): number => {
      if (next.buf === EMPTY) next.buf = new Uint8Array(this.live - freed);
      next.buf.set(from.subarray(offset, offset + length), next.at);
      next.at += length;
      return next.at - length;
    };
    if (this.state.prune(plan, move)) {
      this.buf = next.buf;
      this.used = next.at;
    }
    this.live -= freed;
    this.foldPruned(authors);
    return Promise.resolve();
  }

  adopt(entries: readonly HorizonEntry[]): Promise<void> {
    this.state.adopt(entries);
    return Promise.resolve();
  }

  appendGap(records: readonly GapRecord[]): void {
    if (this.closed) throw this.closedError();
    this.state.addGap(this.state.size, records.slice(0, MAX_GAP_RECORDS).map((r) => ({ id: r.id.slice(), depth: r.depth })));
  }

  sync(): Promise<void> {
    return this.closed ? Promise.reject(this.closedError()) : Promise.resolve();
  }

  /** Appends then throw; reads keep working. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
