/**
 * The disk {@link ScopeStore} (docs/design/v2-scopes.md §5): one directory per scope holding
 * `members.log` (membership commands, never pruned), `horizon.bin` (base, pinned commands,
 * horizon) and the segments (every command in append order, with gap markers).
 *
 * Open order (§5.3): `horizon.bin`, then `members.log` (the `membership` hook sees every
 * membership command before anything is indexed), then the segments from the first one: records
 * below base are skipped unless pinned, membership commands are indexed from `members.log`
 * (their bytes are read there, so deleting a segment never loses one), a membership command in
 * `members.log` but in no segment is appended (§5.2), and segments wholly below base are deleted
 * (a crash between writing `horizon.bin` and the deletes).
 */
import { mkdirSync, realpathSync } from 'node:fs';
import type { CommandV2 } from '../../protocol/command-v2.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import type { Logger } from '../node/log.js';
import { sharedFdPool, type FdPool } from './fd-pool.js';
import { readHorizonFile, writeHorizonFile } from './horizon-file.js';
import { MAX_GAP_RECORDS, encodeGapMarker } from './log-format-v3.js';
import { MembersLog } from './members-log.js';
import { loadScope } from './scope-load.js';
import { ScopeIndex } from './scope-index.js';
import type { AppendExtra, GapRecord, HorizonEntry, PrunePlan, ScopeOpenReport, ScopeStore, ScopeStoreOptions } from './scope-store-contract.js';
import { ScopeStoreBase } from './scope-store-base.js';
import { rollBytesFor, SegmentLog } from './segment-log.js';
import { asStoreLogger } from './store-logger.js';
import { StoreError, asUnwritable } from './store-errors.js';
import { StoreWriteError } from './write-error.js';

/** Real paths of scope directories open in this process: a second writer would corrupt them. */
const openDirs = new Set<string>();

/** Options of {@link DiskScopeStore.open} beyond the contract's. */
export interface DiskScopeStoreOptions extends ScopeStoreOptions {
  /** Receives repairs (warn). Default: discard. */
  logger?: Logger;
  /** Descriptor pool. Default: the process-wide {@link sharedFdPool}. */
  pool?: FdPool;
}

/** {@link ScopeStore} in a scope directory. Create with {@link DiskScopeStore.open}. */
export class DiskScopeStore extends ScopeStoreBase implements ScopeStore {
  openReport: ScopeOpenReport = { commands: 0, truncatedBytes: 0, retained: 0, segments: 0, deletedSegments: 0, recoveredMembers: 0 };
  private closing: Promise<void> | null = null;
  private readonly nowS: () => number;

  private constructor(
    /** Real path of the scope directory. */
    readonly dir: string,
    scopeId: Uint8Array,
    state: ScopeIndex,
    private readonly members: MembersLog,
    readonly segments: SegmentLog,
    nowS: (() => number) | undefined,
  ) {
    super(scopeId, state);
    this.nowS = nowS ?? (() => Math.floor(Date.now() / 1000));
  }

  protected get location(): string {
    return this.dir;
  }

  /**
   * Open (creating: directory 0o700, files 0o600) the scope directory `dir` and recover it as
   * the module comment says. Signatures are not re-verified: the files are local and CRC-protected.
   * @throws ScopeStoreError 'bad-horizon' (damaged `horizon.bin`), 'bad-segment' (damage that
   *   cannot be cut off at a tail), 'wrong-scope'; StoreError 'already-open', 'unwritable', and
   *   the header errors of a foreign or newer file (nothing is modified then).
   */
  static async open(dir: string, opts: DiskScopeStoreOptions): Promise<DiskScopeStore> {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw asUnwritable(err, dir);
    }
    const real = realpathSync(dir);
    if (openDirs.has(real)) throw new StoreError('already-open', real, `scope store ${real} is already open in this process`);
    openDirs.add(real);
    const pool = opts.pool ?? sharedFdPool;
    let segments: SegmentLog | undefined;
    let members: MembersLog | undefined;
    try {
      const hz = readHorizonFile(real);
      const m = MembersLog.open(real, opts.scopeId, pool, opts.durability);
      members = m.log;
      for (const x of m.members) opts.hooks?.membership?.(x.cmd);
      segments = SegmentLog.open(real, pool, opts.durability, rollBytesFor(opts.byteBound));
      const state = new ScopeIndex(hz.base, hz.pinnedHeads, hz.entries);
      const store = new DiskScopeStore(real, opts.scopeId, state, members, segments, opts.nowS);
      store.loadPrunedSeqs(hz.prunedSeqs);
      const report = loadScope(store, hz, m.members, { frontier: opts.hooks?.frontier, membership: opts.hooks?.membership, logger: asStoreLogger(opts.logger) });
      store.openReport = { ...report, truncatedBytes: report.truncatedBytes + m.repair.truncatedBytes + segments.truncatedHeaders };
      return store;
    } catch (err) {
      await segments?.close().catch(() => undefined);
      await members?.file.close().catch(() => undefined);
      openDirs.delete(real);
      throw err;
    }
  }

  /** The members log (for the loader). @internal */
  get membersLog(): MembersLog {
    return this.members;
  }

  /** A fresh copy of the encoding of `h`. @throws RangeError for a pruned handle, StoreError 'closed'. */
  bytesOf(h: number): Uint8Array {
    if (this.closing) throw this.closedError();
    const s = this.state.slot(h);
    const off = this.state.ix.offsetOf(s);
    const len = this.state.ix.lengthOf(s);
    if (off < 0) return this.members.file.read(-off - 1, len);
    const seg = this.segments.segmentOf(h);
    if (seg === undefined) throw new StoreError('short-read', this.dir, `${this.dir}: no segment holds handle ${h}`);
    return seg.file.read(off, len);
  }

  /** See {@link ScopeStore.append}: indexed at once, written at the next turn (a membership command: to `members.log` at once). */
  append(cmd: CommandV2, extra: AppendExtra): number {
    if (this.closing) throw this.closedError();
    const placed = this.placeOf(cmd);
    if (typeof placed === 'number') return placed;
    const t = this.nowS();
    const memberAt = cmd.kind === CommandKind.Data ? 0 : -this.members.write(cmd, t) - 1;
    const segAt = this.segments.current(this.size, true).append(t, cmd.bytes);
    return this.state.add(this.size, cmd, placed, extra.frontier, memberAt < 0 ? memberAt : segAt, t);
  }

  /** See {@link ScopeStore.appendWritten}. @throws StoreWriteError ('disk-full' on ENOSPC/EDQUOT, 'closed'). */
  appendWritten(cmd: CommandV2, extra: AppendExtra): number {
    if (this.closing) throw new StoreWriteError('closed', undefined, 'scope store is closed');
    const placed = this.placeOf(cmd);
    if (typeof placed === 'number') return placed;
    const t = this.nowS();
    const memberAt = cmd.kind === CommandKind.Data ? 0 : -this.members.write(cmd, t) - 1;
    const segAt = this.segments.current(this.size, true).writeNow(t, cmd.bytes);
    return this.state.add(this.size, cmd, placed, extra.frontier, memberAt < 0 ? memberAt : segAt, t);
  }

  /** Index a record the loader found (or recovered) at handle `h`. @internal */
  loadRecord(h: number, cmd: CommandV2, frontier: number, offset: number, timeS: number, lenient: boolean): number {
    const placed = this.state.resolve(cmd, lenient);
    if (placed === null) throw new StoreError('missing-parent', this.dir, `handle ${h}: a parent is neither held nor in the horizon`);
    this.state.add(h, cmd, placed, frontier, offset, timeS);
    return placed.missing;
  }

  /** Write a recovered membership command's segment record (§5.2 crash rule). @internal */
  rewriteSegmentRecord(cmd: CommandV2, timeS: number): void {
    this.segments.current(this.size, true).append(timeS, cmd.bytes);
  }

  /**
   * Apply `plan` in memory, then write `horizon.bin` (after making `members.log` durable: the
   * file's pinned membership handles name its records), then delete segments wholly below base.
   */
  async prune(plan: PrunePlan): Promise<void> {
    if (this.closing) throw this.closedError();
    const authors = this.authorsBefore(plan);
    this.state.prune(plan);
    this.foldPruned(authors);
    this.members.file.seal();
    this.persistHorizon();
    this.segments.deleteBelow(this.base, this.state.pinnedDataList());
  }

  /** Add adopted horizon entries and persist them (no segment is deleted). */
  async adopt(entries: readonly HorizonEntry[]): Promise<void> {
    if (this.closing) throw this.closedError();
    if (this.state.adopt(entries) > 0) this.persistHorizon();
  }

  /** Stage a gap marker before the next command (in the current segment). */
  appendGap(records: readonly GapRecord[]): void {
    if (this.closing) throw this.closedError();
    const listed = records.slice(0, MAX_GAP_RECORDS).map((r) => ({ id: r.id.slice(), depth: r.depth }));
    this.segments.current(this.size, false).append(this.nowS(), encodeGapMarker(listed));
    this.state.addGap(this.size, listed);
  }

  sync(): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError());
    return Promise.all([this.members.file.sync(), this.segments.sync()]).then(() => undefined);
  }

  /** Flush, fsync, release the files and the directory. Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.all([this.members.file.close(), this.segments.close()])
      .then(() => undefined)
      .finally(() => openDirs.delete(this.dir));
    return this.closing;
  }

  private persistHorizon(): void {
    writeHorizonFile(this.dir, { base: this.base, pinnedHeads: this.state.pinnedDataList(), entries: this.state.horizon(), pinnedMembers: this.state.pinnedMembers(), prunedSeqs: this.prunedSeqList() });
  }
}
