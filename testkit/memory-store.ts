/**
 * An in-memory {@link CommandStore} (the interface of DiskStore, the reader of a migrated v1 log)
 * for tests: the shared compact index plus one growable byte buffer holding every encoding back to
 * back. Nothing survives the process.
 */
import type { Command } from '../protocol/command.js';
import { CommandIndex } from '../agent/store/command-index.js';
import { IndexedStore } from '../agent/store/indexed-store.js';
import type { CommandStore, OpenReport } from '../agent/store/command-store.js';

/** {@link CommandStore} held in memory; `sync()` resolves at once. */
export class MemoryStore extends IndexedStore {
  /** Always empty: a memory store starts with nothing and has no log to repair. */
  readonly openReport: OpenReport = { commands: 0, truncatedBytes: 0 };
  private buf = new Uint8Array(64 * 1024);
  private used = 0;
  private closed = false;
  protected readonly location = undefined;

  constructor() {
    super(new CommandIndex());
  }

  /** A fresh copy: callers may keep or mutate it. */
  bytesOf(idx: number): Uint8Array {
    const at = this.index.offsetOf(idx);
    return this.buf.slice(at, at + this.index.lengthOf(idx));
  }

  /** @throws StoreError 'missing-parent' when a parent is missing, 'closed' after close. */
  append(cmd: Command): number {
    if (this.closed) throw this.closedError('memory store');
    const placed = this.placeOf(cmd);
    if (typeof placed === 'number') return placed;
    const parents = placed;
    const h = this.index.add(cmd.id, parents, cmd.bytes.length, this.used, cmd.author, cmd.seq);
    if (this.used + cmd.bytes.length > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.used + cmd.bytes.length));
      next.set(this.buf.subarray(0, this.used));
      this.buf = next;
    }
    this.buf.set(cmd.bytes, this.used);
    this.used += cmd.bytes.length;
    return h;
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  /** Marks the store closed (appends then throw); reads keep working. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
