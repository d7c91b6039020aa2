/**
 * One v3 record file (a segment, or `members.log`): create with its header, scan and repair on
 * open, staged appends with group commit, positional reads. Descriptors come from the shared
 * {@link FdPool}, and the staging buffer exists only while something is staged, so an idle file
 * costs a few numbers.
 *
 * Durability is the v1 log's (`durability.ts`, `log-writer.ts`): `always` — `sync()` waits for an
 * fdatasync that started after its records were written, one in flight at a time, every later
 * caller served by the next; `batch:<ms>` — an fsync at most `ms` after a write; `none` — never.
 * A failed fsync refuses every later sync (the kernel may have dropped dirty pages).
 */
import { closeSync, fdatasync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Durability } from './command-store.js';
import { HEADER_BYTES, fsyncDir } from './log-format.js';
import { FORMAT_V3, checkHeaderV3, headerV3, recordHeadV3 } from './log-format-v3.js';
import { quarantine } from './log-rewrite.js';
import { scanRecords, type RecordVisitor } from './log-scan.js';
import { ScopeStoreError } from './scope-store-errors.js';
import { asUnwritable } from './store-errors.js';
import type { FdPool } from './fd-pool.js';
import { StoreWriteError } from './write-error.js';

/** What a scan repaired. */
export interface FileRepair {
  /** Bytes cut: a torn header or last record, or damage running to the end of the file (quarantined first). */
  truncatedBytes: number;
}

/** An append-only v3 record file. */
export class RecordFile {
  private stage: Buffer | null = null;
  private staged = 0;
  private written: number;
  private synced: number;
  private fsyncing = false;
  /** Callers of `sync()` waiting for an fsync; created by the first one (an idle file has none). */
  private waiters: Array<{ end: number; resolve: () => void; reject: (e: Error) => void }> | null = null;
  private queued = false;
  private timer: NodeJS.Timeout | null = null;
  private fatal: Error | null = null;

  private constructor(
    readonly path: string,
    size: number,
    private readonly pool: FdPool,
    private readonly durability: Durability,
  ) {
    this.written = size;
    this.synced = size;
  }

  /**
   * Open `path`, creating it (0o600, header fsynced, directory fsynced) when absent or when it
   * holds only a torn header. @throws StoreError 'not-a-log' / 'bad-header' / 'unsupported-version' / 'unwritable'.
   */
  static open(path: string, pool: FdPool, durability: Durability): { file: RecordFile; repair: FileRepair } {
    let fd: number;
    let created = false;
    try {
      fd = openSync(path, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw asUnwritable(err, path);
      try {
        fd = openSync(path, 'wx+', 0o600);
      } catch (e) {
        throw asUnwritable(e, path);
      }
      created = true;
    }
    try {
      const size = fstatSync(fd).size;
      const head = Buffer.alloc(Math.min(size, HEADER_BYTES));
      readSync(fd, head, 0, head.length, 0);
      if (checkHeaderV3(head, path) === 3) return { file: new RecordFile(path, size, pool, durability), repair: { truncatedBytes: 0 } };
      ftruncateSync(fd, 0);
      writeSync(fd, headerV3(), 0, HEADER_BYTES, 0);
      fsyncSync(fd);
      if (created) fsyncDir(dirname(path));
      return { file: new RecordFile(path, HEADER_BYTES, pool, durability), repair: { truncatedBytes: size } };
    } finally {
      closeSync(fd);
    }
  }

  /** Logical size: file bytes plus staged bytes (the next record starts here). */
  get size(): number {
    return this.written + this.staged;
  }

  /**
   * Hand every verified record to `visit` in file order, then repair: a torn last record is cut;
   * damage that runs to the end of the file is quarantined (`<file>.quarantine-<time>`) and cut.
   * @throws ScopeStoreError 'bad-segment' for damage followed by good records (cutting it would
   *   renumber handles), or any damage, a torn last record included, when `tailOnly` is false.
   */
  scan(visit: RecordVisitor, tailOnly = true): FileRepair {
    const fd = this.pool.fd(this.path);
    const r = scanRecords(fd, FORMAT_V3, HEADER_BYTES, this.written, visit);
    let end = r.end;
    const last = r.damaged[r.damaged.length - 1];
    // A torn record where no write can have been cut short (a sealed segment) is damage too:
    // refused before anything is cut, so salvage still sees the file as it was.
    const tornInside = !tailOnly && r.torn !== undefined;
    if (r.damaged.length > 1 || tornInside || (last !== undefined && (!tailOnly || last.offset + last.length !== r.end || r.torn !== undefined))) {
      const ranges = r.damaged.map((d) => `${d.length} bytes at ${d.offset}: ${d.reason}`);
      if (tornInside) ranges.push(`${r.torn!.length} bytes at ${r.torn!.offset}: an incomplete record in a segment that is not the last`);
      throw new ScopeStoreError('bad-segment', this.path, `${this.path}: damaged records (${ranges.join('; ')}); the scope needs \`syncwire store salvage --scope\``);
    }
    if (last !== undefined) {
      quarantine(this.pool.fd(this.path), this.path, 3, [last]);
      end = last.offset;
    }
    const cut = this.written - end;
    if (cut > 0) {
      const f = this.pool.fd(this.path);
      ftruncateSync(f, end);
      fsyncSync(f);
      this.written = end;
      this.synced = end;
    }
    return { truncatedBytes: cut };
  }

  /** Stage one record; it is written at the next event-loop turn (or at `sync()`). Returns its body's offset. */
  append(timeS: number, body: Uint8Array): number {
    const head = recordHeadV3(body, timeS);
    const n = head.length + body.length;
    if (this.stage === null || this.staged + n > this.stage.length) {
      const next = Buffer.allocUnsafe(Math.max(4096, (this.stage?.length ?? 0) * 2, this.staged + n));
      this.stage?.copy(next, 0, 0, this.staged);
      this.stage = next;
    }
    const at = this.size + head.length;
    head.copy(this.stage, this.staged);
    this.stage.set(body, this.staged + head.length);
    this.staged += n;
    if (!this.queued) {
      this.queued = true;
      setImmediate(() => {
        this.queued = false;
        try {
          this.flush();
        } catch {
          // sync() retries the write and rejects with its error; nobody else to tell here.
        }
      });
    }
    return at;
  }

  /**
   * Write one record now, after anything staged. On failure nothing of it stays (the file is cut
   * back to where it began). Returns its body's offset. @throws StoreWriteError.
   */
  writeNow(timeS: number, body: Uint8Array): number {
    if (this.fatal) throw StoreWriteError.from(this.fatal, this.path);
    try {
      this.flush();
    } catch (err) {
      throw StoreWriteError.from(err, this.path);
    }
    const rec = Buffer.concat([recordHeadV3(body, timeS), body]);
    const fd = this.pool.fd(this.path);
    const start = this.written;
    try {
      for (let done = 0; done < rec.length; ) done += writeSync(fd, rec, done, rec.length - done, start + done);
    } catch (err) {
      try {
        ftruncateSync(fd, start);
      } catch (e) {
        this.fatal = e as Error;
      }
      throw StoreWriteError.from(err, this.path);
    }
    this.written += rec.length;
    this.armTimer();
    return start + rec.length - body.length;
  }

  /** Bytes `[offset, offset + len)`: from the stage when not yet written, else one positional read. */
  read(offset: number, len: number): Uint8Array {
    if (offset >= this.written && this.stage !== null) return new Uint8Array(this.stage.subarray(offset - this.written, offset - this.written + len));
    const out = new Uint8Array(len);
    const fd = this.pool.fd(this.path);
    for (let got = 0; got < len; ) {
      const n = readSync(fd, out, got, len - got, offset + got);
      if (n === 0) throw new ScopeStoreError('bad-segment', this.path, `${this.path}: short read at offset ${offset}`);
      got += n;
    }
    return out;
  }

  /** Write everything staged; release the stage. @throws the write error (staged bytes kept for a retry). */
  flush(): void {
    if (this.stage === null || this.staged === 0) return;
    const fd = this.pool.fd(this.path);
    let done = 0;
    try {
      while (done < this.staged) done += writeSync(fd, this.stage, done, this.staged - done, this.written + done);
    } finally {
      this.stage.copy(this.stage, 0, done, this.staged);
      this.staged -= done;
      this.written += done;
      if (this.staged === 0) this.stage = null;
    }
    this.armTimer();
  }

  /**
   * Write and, unless durability is `none`, fsync now (a segment that is being rolled away from:
   * later syncs cover only the newest segment).
   */
  seal(): void {
    this.flush();
    if (this.durability.mode === 'none' || this.synced >= this.written) return;
    fsyncSync(this.pool.fd(this.path));
    this.synced = this.written;
  }

  /** Resolves when everything appended before the call is as durable as the setting promises. */
  sync(): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    try {
      this.flush();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (this.durability.mode !== 'always' || this.synced >= this.written) return Promise.resolve();
    return this.waitFsync();
  }

  /** Write and fsync whatever the setting (closing is a checkpoint), then drop the descriptor. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
    if (this.fatal) throw this.fatal;
    if (this.synced < this.written || this.fsyncing) await this.waitFsync();
    this.pool.drop(this.path);
  }

  private waitFsync(): Promise<void> {
    return new Promise((resolve, reject) => {
      (this.waiters ??= []).push({ end: this.written, resolve, reject });
      this.startFsync();
    });
  }

  private armTimer(): void {
    if (this.timer || this.durability.mode !== 'batch') return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.synced < this.written) this.startFsync();
    }, this.durability.ms);
    this.timer.unref();
  }

  private startFsync(): void {
    if (this.fsyncing || this.fatal) return;
    const covers = this.written;
    this.fsyncing = true;
    const fd = this.pool.pin(this.path);
    fdatasync(fd, (err) => {
      this.pool.unpin(this.path);
      this.fsyncing = false;
      const waiters = this.waiters ?? [];
      if (err) {
        this.fatal = err;
        this.waiters = null;
        for (const w of waiters) w.reject(err);
        return;
      }
      if (covers > this.synced) this.synced = covers;
      let i = 0;
      while (i < waiters.length && waiters[i]!.end <= this.synced) waiters[i++]!.resolve();
      waiters.splice(0, i);
      if (waiters.length === 0) this.waiters = null;
      if (waiters.length > 0) this.startFsync();
      else if (this.synced < this.written) this.armTimer();
    });
  }
}
