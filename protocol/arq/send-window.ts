/**
 * The sender's window: the chunks in flight, in seq order from `base`, with their transmission
 * state, and the cumulative and selective acknowledgement bookkeeping. Policy (when to resend,
 * what a loss means) is the sender's.
 */
import type { CutChunk } from './send-queue.js';

/** A chunk in flight. */
export interface OutChunk {
  seq: number;
  data: Uint8Array;
  last: boolean;
  start: boolean;
  /** Transmissions so far. */
  tx: number;
  /** (Estimated) time the last transmission left the line. */
  sentAt: number;
  /** RTO after the last transmission. */
  deadline: number;
  /** A SACK said it arrived (it no longer counts against the window's bytes). */
  sacked: boolean;
  /** Retransmit at the next poll (SACK hole, RST). */
  fast: boolean;
  /** A SACK showed a later chunk arrived: the receiver ACKs this one at once when it comes. */
  hole: boolean;
}

/** Chunks in flight of the current stream. */
export class SendWindow {
  private list: OutChunk[] = [];
  private unsackedBytes = 0;
  /** Seq of the first chunk in flight. */
  private base = 0;
  private nextSeq = 0;
  private ackedAny = false;

  /** The chunks in flight, oldest first (do not modify the array). */
  get chunks(): readonly OutChunk[] {
    return this.list;
  }

  /** Chunks in flight (SACKed ones included). */
  get length(): number {
    return this.list.length;
  }

  /** Data bytes in flight and not SACKed. */
  get bytes(): number {
    return this.unsackedBytes;
  }

  /** An ACK of this stream cumulatively acknowledged a chunk. */
  get acked(): boolean {
    return this.ackedAny;
  }

  /** Put a freshly cut chunk in flight under the next seq (with START when it opens the stream). */
  add(cut: CutChunk, now: number): OutChunk {
    const start = this.nextSeq === 0 && this.base === 0 && !this.ackedAny && this.list.length === 0;
    const c: OutChunk = { seq: this.nextSeq, ...cut, start, tx: 0, sentAt: now, deadline: now, sacked: false, fast: false, hole: false };
    this.nextSeq = (this.nextSeq + 1) & 0xff;
    this.list.push(c);
    this.unsackedBytes += c.data.length;
    return c;
  }

  /**
   * A cumulative ACK: every seq before `next` arrived. Returns the chunks it newly covers, now out
   * of the window (none for a repeated ACK), or null when `next` lies beyond what was sent.
   */
  advance(next: number): OutChunk[] | null {
    const adv = (next - this.base) & 0xff;
    if (adv > this.list.length) return null;
    const done = this.list.splice(0, adv);
    for (const c of done) if (!c.sacked) this.unsackedBytes -= c.data.length;
    this.base = next;
    if (adv > 0) this.ackedAny = true;
    return done;
  }

  /**
   * Apply SACK bits relative to the window's base (bit i: the chunk at index 1 + i arrived).
   * Returns the chunks newly marked and the index of the highest chunk the bits name (−1: none).
   */
  sack(bits: number): { marked: OutChunk[]; highest: number } {
    const marked: OutChunk[] = [];
    let highest = -1;
    for (let i = 0; i < 32 && bits !== 0; i++) {
      if ((bits & (1 << i)) === 0) continue;
      const j = 1 + i;
      if (j >= this.list.length) break;
      const c = this.list[j]!;
      if (!c.sacked) {
        c.sacked = true;
        this.unsackedBytes -= c.data.length;
        marked.push(c);
      }
      highest = j;
    }
    return { marked, highest };
  }

  /** Count every SACKed chunk as outstanding again (the receiver that buffered them is gone). */
  unsackAll(): void {
    for (const c of this.list) {
      if (c.sacked) {
        c.sacked = false;
        this.unsackedBytes += c.data.length;
      }
    }
  }

  /** Empty, from seq 0 (a new stream). */
  clear(): void {
    this.list = [];
    this.unsackedBytes = 0;
    this.base = this.nextSeq = 0;
    this.ackedAny = false;
  }
}
