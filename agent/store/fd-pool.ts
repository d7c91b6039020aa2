/**
 * One LRU pool of open file descriptors shared by every scope store of a process (design §5.4:
 * an idle scope holds no descriptor). A file is opened on first use and closed when it is the
 * least recently used one past the pool's capacity. A descriptor handed out by {@link FdPool.fd}
 * is valid until the caller's next call into the pool (callers use it synchronously); one that
 * must outlive that (an fsync on the thread pool) is pinned and never evicted while pinned.
 */
import { closeSync, openSync } from 'node:fs';

interface Slot {
  fd: number;
  pins: number;
  /** Close once the last pin is released (the file was dropped while pinned). */
  dropped: boolean;
}

/** LRU of open files, keyed by path. */
export class FdPool {
  // A Map iterates in insertion order: re-inserting on use makes the first key the LRU one.
  private readonly slots = new Map<string, Slot>();
  /** Files opened since the pool was made (for tests and benchmarks). */
  opens = 0;

  /** @param capacity descriptors kept open at most (pinned ones may exceed it briefly). */
  constructor(readonly capacity = 64) {}

  /** Descriptors currently open. */
  get openCount(): number {
    return this.slots.size;
  }

  /** A read-write descriptor of `path` (an existing file). @throws the errno error of open. */
  fd(path: string): number {
    const s = this.touch(path);
    return s.fd;
  }

  /** Like {@link fd}, and keep it open until {@link unpin}. */
  pin(path: string): number {
    const s = this.touch(path);
    s.pins++;
    return s.fd;
  }

  /** Release one pin of `path`. */
  unpin(path: string): void {
    const s = this.slots.get(path);
    if (s === undefined || s.pins === 0) return;
    s.pins--;
    if (s.pins === 0 && s.dropped) this.closeSlot(path, s);
    else this.evict();
  }

  /** Close `path` if it is open (before it is deleted or renamed); a pinned file closes at its last unpin. */
  drop(path: string): void {
    const s = this.slots.get(path);
    if (s === undefined) return;
    if (s.pins > 0) s.dropped = true;
    else this.closeSlot(path, s);
  }

  private touch(path: string): Slot {
    let s = this.slots.get(path);
    if (s !== undefined && !s.dropped) {
      this.slots.delete(path);
      this.slots.set(path, s);
      return s;
    }
    if (s !== undefined) throw new Error(`${path} was dropped from the descriptor pool while in use`);
    s = { fd: openSync(path, 'r+'), pins: 0, dropped: false };
    this.opens++;
    this.slots.set(path, s);
    this.evict(path);
    return s;
  }

  /** Close least recently used, unpinned files past capacity (never `keep`). */
  private evict(keep?: string): void {
    if (this.slots.size <= this.capacity) return;
    for (const [p, s] of this.slots) {
      if (this.slots.size <= this.capacity) break;
      if (p !== keep && s.pins === 0) this.closeSlot(p, s);
    }
  }

  private closeSlot(path: string, s: Slot): void {
    this.slots.delete(path);
    closeSync(s.fd);
  }
}

/** The process-wide pool every disk scope store uses unless given another. */
export const sharedFdPool = new FdPool(64);
