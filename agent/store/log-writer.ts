/**
 * Appends records to the log and makes them durable according to the durability setting.
 *
 * Appends are copied into a staging buffer and written with one positional `writeSync` per batch
 * (at the next event-loop turn, on `sync()`, or when the stage passes 1 MiB): a page-cache write
 * is microseconds, and one syscall per batch instead of per command keeps the loop free.
 * Fsyncs (`fdatasync`) run on the thread pool. Group commit: a `sync()` waits for the first fsync
 * that *starts* after its records were written; while one fsync is in flight, every later caller
 * queues for the next one, which then covers all of them at once.
 *
 * Local commits take another path, {@link LogWriter.writeRecord}: the record is written at once
 * and, should the write fail (a full disk), the file is cut back to where the record began, so
 * the caller can leave the command out of the index and nothing half-written stays behind.
 */
import { fdatasync, ftruncateSync, writeSync } from 'node:fs';
import type { Logger } from '../node/log.js';
import type { Durability } from './command-store.js';
import { asStoreLogger, type StoreLogger } from './store-logger.js';
import { StoreWriteError } from './write-error.js';

/** Stage size past which an append writes at once, bounding memory under a burst. */
const EAGER_FLUSH_BYTES = 1 << 20;

/** Counters for tests and benchmarks. */
export interface WriterStats {
  /** `writeSync` calls (batches written). */
  writes: number;
  /** fdatasync calls started. */
  fsyncs: number;
  /** Bytes written to the file. */
  bytesWritten: number;
}

interface Waiter {
  end: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Staged, batched, group-committed appender for one open log file descriptor. */
export class LogWriter {
  /** Counters since open. */
  readonly stats: WriterStats = { writes: 0, fsyncs: 0, bytesWritten: 0 };
  private stage = Buffer.allocUnsafe(64 * 1024);
  private staged = 0;
  private written: number;
  private synced: number;
  private fsyncing = false;
  private waiters: Waiter[] = [];
  private flushQueued = false;
  private timer: NodeJS.Timeout | null = null;
  /** A failed fsync: the kernel may have dropped dirty pages, so no later fsync can be trusted. */
  private fatal: Error | null = null;
  /** Where background write failures go (warn level): they have no caller to throw to. */
  private readonly log: Logger;

  /**
   * @param fd open read-write descriptor of the log
   * @param end current file size (records are written from here on)
   * @param durability when to fsync (see {@link Durability})
   * @param logger reports background write failures, which have no caller to throw to
   */
  constructor(
    private readonly fd: number,
    end: number,
    private readonly durability: Durability,
    logger: Logger | StoreLogger,
  ) {
    this.log = asStoreLogger(logger);
    this.written = end;
    this.synced = end;
  }

  /** Logical end of the log: file bytes plus staged bytes. The next record starts here. */
  get end(): number {
    return this.written + this.staged;
  }

  /** Stage `parts` (one record) for writing. */
  append(...parts: Uint8Array[]): void {
    const n = parts.reduce((s, p) => s + p.length, 0);
    if (this.staged + n > this.stage.length) {
      const next = Buffer.allocUnsafe(Math.max(this.stage.length * 2, this.staged + n));
      this.stage.copy(next, 0, 0, this.staged);
      this.stage = next;
    }
    for (const p of parts) {
      this.stage.set(p, this.staged);
      this.staged += p.length;
    }
    if (this.staged >= EAGER_FLUSH_BYTES) this.backgroundFlush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.backgroundFlush());
    }
  }

  /** Bytes `[offset, offset + length)` if they are still staged (not yet written), else null. */
  readStaged(offset: number, length: number): Uint8Array | null {
    if (offset < this.written) return null;
    const at = offset - this.written;
    return new Uint8Array(this.stage.subarray(at, at + length));
  }

  /**
   * Write everything staged, then `parts` (one record) right after it, now. Returns the offset
   * the record starts at. On failure nothing of the record remains: bytes of it that reached the
   * file are cut off again (ftruncate to the record's start), and `end` is unchanged.
   * @throws StoreWriteError (`disk-full` on ENOSPC/EDQUOT) when the stage or the record cannot be
   *   written; staged bytes then stay staged for a retry, as with {@link flush}.
   */
  writeRecord(file: string, ...parts: Uint8Array[]): number {
    if (this.fatal) throw StoreWriteError.from(this.fatal, file);
    try {
      this.flush();
    } catch (err) {
      throw StoreWriteError.from(err, file);
    }
    // The stage is empty now: assemble the record there so it takes one write, not one a part.
    const n = parts.reduce((sum, p) => sum + p.length, 0);
    if (n > this.stage.length) this.stage = Buffer.allocUnsafe(n);
    let off = 0;
    for (const p of parts) {
      this.stage.set(p, off);
      off += p.length;
    }
    const start = this.written;
    let done = 0;
    try {
      while (done < n) {
        done += writeSync(this.fd, this.stage, done, n - done, start + done);
        this.stats.writes++;
      }
    } catch (err) {
      // Some of the record may have reached the file: take it back.
      this.cutBack(start, file);
      throw StoreWriteError.from(err, file);
    }
    this.written = start + n;
    this.stats.bytesWritten += n;
    if (this.durability.mode === 'batch') this.armTimer();
    return start;
  }

  /** Write everything staged. @throws the write error (staged bytes are kept for a retry). */
  flush(): void {
    let done = 0;
    try {
      while (done < this.staged) {
        done += writeSync(this.fd, this.stage, done, this.staged - done, this.written + done);
        this.stats.writes++;
      }
    } finally {
      // Keep exactly the unwritten remainder so a later flush neither loses nor repeats bytes.
      this.stage.copy(this.stage, 0, done, this.staged);
      this.staged -= done;
      this.written += done;
      this.stats.bytesWritten += done;
    }
    if (done > 0 && this.durability.mode === 'batch') this.armTimer();
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

  /** Write, fsync (whatever the setting: closing is a checkpoint) and stop timers. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
    if (this.fatal) throw this.fatal;
    if (this.synced < this.written || this.fsyncing) await this.waitFsync();
  }

  /**
   * Drop bytes of a failed record past `start`. If even that fails the file may keep a partial
   * record, and later positional writes could leave its tail behind theirs: refuse all writes.
   */
  private cutBack(start: number, file: string): void {
    try {
      ftruncateSync(this.fd, start);
    } catch (err) {
      this.fatal = err as Error;
      this.log.warn({ file, offset: start, error: String(err) }, 'command log: cannot cut a failed record off; refusing further writes');
    }
  }

  private waitFsync(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ end: this.written, resolve, reject });
      this.startFsync();
    });
  }

  private backgroundFlush(): void {
    this.flushQueued = false;
    try {
      this.flush();
    } catch (err) {
      // sync() retries and rejects with the error; here there is nobody to tell but the log.
      this.log.warn({ error: String(err) }, 'command log: write failed, will retry on next sync');
    }
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
    this.stats.fsyncs++;
    fdatasync(this.fd, (err) => {
      this.fsyncing = false;
      if (err) {
        this.fatal = err;
        this.log.warn({ error: String(err) }, 'command log: fsync failed; durability can no longer be promised');
        for (const w of this.waiters.splice(0)) w.reject(err);
        return;
      }
      if (covers > this.synced) this.synced = covers;
      // Waiter ends never decrease (they are `written` at call time), so the ready ones lead.
      let i = 0;
      while (i < this.waiters.length && this.waiters[i]!.end <= this.synced) this.waiters[i++]!.resolve();
      this.waiters.splice(0, i);
      if (this.waiters.length > 0) this.startFsync();
      else if (this.synced < this.written) this.armTimer();
    });
  }
}
