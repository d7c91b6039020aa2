/**
 * The persistent {@link CommandStore}: one append-only, CRC-protected log file (`commands.log`,
 * layout in `log-format.ts`) plus the compact in-memory index rebuilt by scanning it on open
 * (repairs in `log-open.ts`).
 * Durability and group commit are the {@link LogWriter}'s job; recent encodings are served from
 * a small LRU so pushes rarely touch the disk.
 */
import { closeSync, readSync } from 'node:fs';
import type { Command } from '../../protocol/command.js';
import { toHex } from '../../protocol/keys.js';
import type { CommandIndex } from './command-index.js';
import type { CommandStore, Durability, OpenReport } from './command-store.js';
import { recordHead } from './log-format.js';
import type { OrphanRecord } from './log-index.js';
import type { Logger } from '../node/log.js';
import { openLog, releaseDir, type OpenedLog, type RepairReport } from './log-open.js';
import { LogWriter, type WriterStats } from './log-writer.js';
import { IndexedStore } from './indexed-store.js';
import { RecordCache } from './record-cache.js';
import { asStoreLogger, type StoreLogger } from './store-logger.js';
import { StoreError } from './store-errors.js';
import { StoreWriteError } from './write-error.js';

export { parseDurability, formatDurability } from './durability.js';

/** Name of the log file inside the store directory. */
export const LOG_FILE = 'commands.log';

export type { StoreLogger } from './store-logger.js';

/** What opening a disk store found: the {@link OpenReport} plus the repairs made. */
export type DiskOpenReport = OpenReport & RepairReport;

/** Options of {@link DiskStore.open}. */
export interface DiskStoreOptions {
  /** When appended commands are fsynced (see {@link Durability}). */
  durability: Durability;
  /**
   * Receives repairs (warn; damage at error) and background write failures (warn). A
   * {@link Logger}, or the older {@link StoreLogger} callback. Default: discard.
   */
  logger?: Logger | StoreLogger;
  /** Budget of the recent-record LRU in bytes. Default 4 MiB; 0 disables it. */
  cacheBytes?: number;
}

/** Counters of a disk store, for tests and benchmarks. */
export interface DiskStoreStats extends WriterStats {
  cacheHits: number;
  cacheMisses: number;
}

/** {@link CommandStore} backed by an append-only log file. Create with {@link DiskStore.open}. */
export class DiskStore extends IndexedStore {
  /** Absolute path of the log file. */
  readonly file: string;
  private readonly dir: string;
  private readonly fd: number;
  /** Records on disk whose parents were lost in damage, by id (hex): appended without a write once they resolve. */
  private readonly orphans: Map<string, OrphanRecord>;
  private closing: Promise<void> | null = null;

  private constructor(
    log: OpenedLog,
    private readonly writer: LogWriter,
    private readonly cache: RecordCache,
    readonly openReport: DiskOpenReport,
  ) {
    super(log.index);
    this.file = log.file;
    this.dir = log.dir;
    this.fd = log.fd;
    this.orphans = log.orphans;
  }

  /**
   * Open (creating if missing: directory mode 0o700, file 0o600) the store in `dir`, upgrade a
   * v1 log, scan it and repair it (see `openLog`): an incomplete last record is cut
   * (`openReport.truncatedBytes`); damaged records are quarantined and skipped, never the good
   * ones after them (`skippedBytes`, `damagedRanges`, `quarantine`); records whose parents were
   * lost are kept on disk as orphans (`orphans`) until the parents are appended.
   * Signatures are not re-verified: the log is local and CRC-protected.
   * @throws StoreError (exit status 78) when the file is not a syncwire log, its header is
   *   corrupt, its version unsupported or the directory unwritable (the file is left untouched);
   *   StoreError 'already-open' (exit status 1) when the directory is already open in this process.
   */
  static async open(dir: string, opts: DiskStoreOptions): Promise<DiskStore> {
    const logger = asStoreLogger(opts.logger);
    const log = openLog(dir, LOG_FILE, logger);
    const writer = new LogWriter(log.fd, log.end, opts.durability, logger);
    const cache = new RecordCache(opts.cacheBytes ?? 4 << 20);
    return new DiskStore(log, writer, cache, { commands: log.index.size, ...log.report });
  }

  /** Where errors say the store is: its log file. */
  protected get location(): string {
    return this.file;
  }

  /**
   * A fresh copy of the encoding: from the LRU, else the not-yet-written stage, else one
   * positional read. @throws StoreError 'closed' after close, 'short-read' when the file is
   * shorter than its index says; the errno error of a failed read.
   */
  bytesOf(idx: number): Uint8Array {
    if (this.closing) throw this.closedError('disk store');
    const cached = this.cache.get(idx);
    if (cached !== undefined) return cached.slice();
    const offset = this.index.offsetOf(idx);
    const len = this.index.lengthOf(idx);
    const staged = this.writer.readStaged(offset, len);
    if (staged !== null) return staged;
    const out = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, out, got, len - got, offset + got);
      if (n === 0) throw new StoreError('short-read', this.file, `${this.file}: short read of command ${idx} at offset ${offset}`);
      got += n;
    }
    this.cache.set(idx, out.slice());
    return out;
  }

  /**
   * Index `cmd` now (it is visible to readers at once) and stage its record; it reaches the
   * file at the next event-loop turn and is durable once a later `sync()` resolves.
   * @throws StoreError 'missing-parent' when a parent is missing, 'closed' after close.
   */
  append(cmd: Command): number {
    if (this.closing) throw this.closedError('disk store');
    const placed = this.place(cmd);
    if (typeof placed === 'number') return placed;
    const parents = placed;
    const head = recordHead(cmd.bytes);
    const h = this.index.add(cmd.id, parents, cmd.bytes.length, this.writer.end + head.length, cmd.author, cmd.seq);
    this.writer.append(head, cmd.bytes);
    // Pushes read a new command right after its commit; caching a private copy spares a read.
    this.cache.set(h, Uint8Array.from(cmd.bytes));
    return h;
  }

  /**
   * Store a command this agent just created: its record is written to the file first and only
   * then indexed, so when the write fails (a full disk) the command is in neither the file nor
   * the graph, and nothing was pushed. Durable once a later `sync()` resolves.
   * @throws StoreWriteError (reason `disk-full` on ENOSPC/EDQUOT, `closed` after close);
   *   StoreError 'missing-parent' when a parent is missing.
   */
  override appendWritten(cmd: Command): number {
    if (this.closing) throw new StoreWriteError('closed', undefined, 'disk store is closed');
    const placed = this.place(cmd);
    if (typeof placed === 'number') return placed;
    const parents = placed;
    const head = recordHead(cmd.bytes);
    const start = this.writer.writeRecord(this.file, head, cmd.bytes);
    const h = this.index.add(cmd.id, parents, cmd.bytes.length, start + head.length, cmd.author, cmd.seq);
    this.cache.set(h, Uint8Array.from(cmd.bytes));
    return h;
  }

  /**
   * `always`: resolves after an fsync covering every append made before the call (shared with
   * concurrent callers). `batch:<ms>` and `none`: resolves once written to the file.
   * Rejects on a write error, or forever after a failed fsync; with StoreError 'closed' after close.
   */
  sync(): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError('disk store'));
    return this.writer.sync();
  }

  /** Write, fsync, close the file and release the directory. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.writer.close().finally(() => {
      closeSync(this.fd);
      releaseDir(this.dir);
    });
    return this.closing;
  }

  /**
   * What appending `cmd` needs before its record is written: its handle when it is already
   * indexed (or is a store orphan, now indexed where it lies), else its parents' handles.
   * @throws StoreError 'missing-parent' when a parent is missing.
   */
  private place(cmd: Command): number | number[] {
    const parents = this.placeOf(cmd);
    if (typeof parents === 'number') return parents;
    const kept = this.indexOrphan(cmd, parents);
    return kept >= 0 ? kept : parents;
  }

  /**
   * When `cmd` is a store orphan (on disk already; its parents were lost and have now arrived),
   * index it where it lies and return its handle; else -1. Nothing is written.
   */
  private indexOrphan(cmd: Command, parents: number[]): number {
    if (this.orphans.size === 0) return -1;
    const hex = toHex(cmd.id);
    const o = this.orphans.get(hex);
    if (o === undefined || o.length !== cmd.bytes.length) return -1;
    this.orphans.delete(hex);
    return this.index.add(cmd.id, parents, o.length, o.offset, cmd.author, cmd.seq);
  }

  /**
   * Bytes of the command log as tracked by its writer: the file's size plus records staged but not
   * yet written (no stat call; what `status` reports as `storeBytes`).
   */
  get bytes(): number {
    return this.writer.end;
  }

  /** Number of store orphans still waiting for a parent. */
  get orphanCount(): number {
    return this.orphans.size;
  }

  /**
   * Encodings of the store orphans (records kept on disk whose parents were lost), for
   * inspection (tests, the chaos harness). The engine needs none of it: the heads exclude the
   * orphans, so its normal poll fetches the lost parents and then the orphans, and
   * {@link append} indexes each orphan where it already lies.
   */
  orphanBytes(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const o of this.orphans.values()) {
      const b = new Uint8Array(o.length);
      let got = 0;
      while (got < o.length) {
        const n = readSync(this.fd, b, got, o.length - got, o.offset + got);
        if (n === 0) break;
        got += n;
      }
      if (got === o.length) out.push(b);
    }
    return out;
  }

  /** I/O and cache counters since open. */
  stats(): DiskStoreStats {
    return { ...this.writer.stats, cacheHits: this.cache.hits, cacheMisses: this.cache.misses };
  }
}
