/**
 * The sender's queue of messages: each is cut into chunks on demand (at whatever the chunk size
 * is when its turn comes) and leaves the queue when its LAST chunk is acknowledged.
 */

interface OutMsg {
  bytes: Uint8Array;
  /** Next byte to cut into a chunk. */
  off: number;
}

/** A chunk cut from the queue. */
export interface CutChunk {
  /** A view into the queued message. */
  data: Uint8Array;
  /** The chunk ends its message. */
  last: boolean;
}

/** FIFO of messages not yet fully acknowledged. */
export class SendQueue {
  private msgs: OutMsg[] = [];
  /** Index in `msgs` of the first message not fully cut into chunks. */
  private cutIdx = 0;
  private queued = 0;

  /** Messages queued and not fully acknowledged. */
  get length(): number {
    return this.msgs.length;
  }

  /** Their bytes. */
  get bytes(): number {
    return this.queued;
  }

  /** Some message still has bytes not cut into chunks. */
  get hasUncut(): boolean {
    return this.cutIdx < this.msgs.length;
  }

  /** Queue a non-empty message (kept by reference). */
  push(message: Uint8Array): void {
    this.msgs.push({ bytes: message, off: 0 });
    this.queued += message.length;
  }

  /** Cut the next chunk of at most `size` bytes. Only when {@link hasUncut}. */
  cut(size: number): CutChunk {
    const m = this.msgs[this.cutIdx]!;
    const len = Math.min(size, m.bytes.length - m.off);
    const data = m.bytes.subarray(m.off, m.off + len);
    m.off += len;
    const last = m.off === m.bytes.length;
    if (last) this.cutIdx++;
    return { data, last };
  }

  /** The oldest message's LAST chunk was acknowledged: it leaves the queue. */
  ackedMessage(): void {
    const m = this.msgs.shift()!;
    this.queued -= m.bytes.length;
    this.cutIdx--;
  }

  /** Cut every message again from its first byte (the stream restarts). */
  rewind(): void {
    for (const m of this.msgs) m.off = 0;
    this.cutIdx = 0;
  }

  /** Drop everything. */
  clear(): void {
    this.msgs = [];
    this.cutIdx = 0;
    this.queued = 0;
  }
}
