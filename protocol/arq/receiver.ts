/**
 * The receiving half of an ARQ endpoint (docs/PROTOCOL.md §2.1.1): reassembles the incoming
 * stream in order, buffers out-of-order chunks within the window only, delivers a message when
 * its LAST chunk and everything before it arrived, and decides when an ACK or RST is owed.
 *
 * ACK policy (tuned so a clean bulk transfer spends < 0.5 % on ACKs): at once on a gap, a chunk
 * filling a gap, a duplicate or a completed message (at most one such ACK per 10 ms); after 8
 * chunks or 4 KiB received unacknowledged; otherwise when data stops arriving for
 * max(20 ms, 2 × the smoothed gap between chunks) (≤ 150 ms), and at most 100 ms after the first
 * unacknowledged chunk (a sender relies on that bound: its RTO is never below the smallest
 * RTT + 120 ms).
 */
import { ARQ_MAX_WINDOW, type AckFrame, type DataFrame, type FragFrame, type RstFrame } from './wire.js';
import { type Chunk, FragBuffers, MessageAssembly } from './reassembly.js';
import type { ArqStats } from './stats.js';

/** Least time between two ACKs sent "at once", ms (a sender's hole timers allow for it). */
export const ACK_MIN_GAP_MS = 10;
/** Longest a receiver holds an ACK after the first unacknowledged chunk, ms (a sender's RTO floor). */
export const ACK_MAX_DELAY_MS = 100;
const ACK_IDLE_MS = 20;
const ACK_IDLE_MAX_MS = 150;
const ACK_EVERY_CHUNKS = 8;
const ACK_EVERY_BYTES = 4096;
const RST_MIN_GAP_MS = 20;
/** How long chunks of an epoch without START wait for it before an RST, ms. */
const TENTATIVE_MS = 200;

/** Receiver of the incoming stream. */
export class ArqReceiver {
  /** The adopted epoch, null before the first START chunk. */
  private epoch: number | null = null;
  /** Next in-order seq expected. */
  private next = 0;
  /** Out-of-order chunks, by seq (within the window). */
  private readonly rxBuf = new Map<number, Chunk>();
  private readonly frags = new FragBuffers();
  private readonly message: MessageAssembly;
  private pendingChunks = 0;
  private pendingBytes = 0;
  private firstPendingAt = 0;
  private lastRecvAt = -Infinity;
  /** Smoothed gap between chunk arrivals, ms (a slow line stretches the idle ACK timer). */
  private rxGap = 0;
  private ackImmediate = false;
  private lastAckAt = -Infinity;
  /** The epoch an RST is owed for. */
  private rstEpoch: number | null = null;
  private lastRstAt = -Infinity;
  /** Whole chunks of the first window of a stream whose START has not come, by seq. */
  private tentEpoch: number | null = null;
  private readonly tentBuf = new Map<number, Chunk>();
  private tentSince = 0;

  constructor(
    maxMessage: number,
    private readonly stats: ArqStats,
  ) {
    this.message = new MessageAssembly(maxMessage);
  }

  /** True while an ACK or RST is owed to the peer. */
  get owes(): boolean {
    return this.pendingChunks > 0 || this.ackImmediate || this.rstEpoch !== null;
  }

  /** True while an RST is owed (it goes out at the next poll). */
  get rstOwed(): boolean {
    return this.rstEpoch !== null;
  }

  /** Forget everything, including the adopted epoch (the link was reopened). */
  reset(): void {
    this.epoch = null;
    this.resetStream();
    this.rstEpoch = null;
    this.lastRstAt = -Infinity;
    this.lastAckAt = -Infinity;
    this.tentEpoch = null;
    this.tentBuf.clear();
  }

  /** Handle a DATA or FRAG frame; messages it completes are appended to `out`. */
  onChunk(f: DataFrame | FragFrame, now: number, out: Uint8Array[]): void {
    if (f.epoch !== this.epoch && !this.enter(f, now)) return;
    const d = (f.seq - this.next) & 0xff;
    if (d >= ARQ_MAX_WINDOW) {
      // A duplicate (our ACK was probably lost); or never sent by a sender in step with us (its
      // window is 64): tell it where we are, so a sender whose stream merely shares our epoch
      // byte sees `next` ahead of it and restarts.
      if (d >= 128) this.stats.duplicates++;
      else this.stats.bad++;
      this.ackImmediate = true;
      return;
    }
    if (this.rxBuf.has(f.seq)) {
      this.stats.duplicates++;
      this.ackImmediate = true;
      return;
    }
    let data: Uint8Array | null;
    if (f.kind === 'frag') data = this.frags.add(f.seq, f.offset, f.total, f.data);
    else {
      this.frags.drop(f.seq);
      data = f.data.slice();
    }
    if (data === null) return;
    // LAST as the frame that completed the chunk says (a sender gives all FRAGs of a chunk its flags).
    const c: Chunk = { data, last: f.last };
    this.stats.received++;
    this.rxBuf.set(f.seq, c);
    if (this.pendingChunks === 0) this.firstPendingAt = now;
    this.pendingChunks++;
    this.pendingBytes += c.data.length;
    if (this.lastRecvAt > -Infinity) this.rxGap = 0.75 * this.rxGap + 0.25 * Math.min(now - this.lastRecvAt, ACK_IDLE_MAX_MS);
    this.lastRecvAt = now;
    // A gap, or a chunk filling one: tell the sender at once.
    if (d > 0 || this.rxBuf.size > 1) this.ackImmediate = true;
    for (let n = this.rxBuf.get(this.next); n !== undefined; n = this.rxBuf.get(this.next)) {
      this.rxBuf.delete(this.next);
      this.next = (this.next + 1) & 0xff;
      const m = this.message.add(n);
      if (m === 'oversized') this.stats.bad++;
      else if (m !== null) {
        out.push(m);
        this.stats.delivered++;
        this.ackImmediate = true;
      }
    }
    if (this.pendingChunks >= ACK_EVERY_CHUNKS || this.pendingBytes >= ACK_EVERY_BYTES) this.ackImmediate = true;
  }

  /** When the next ACK is due, or null when none is owed. */
  ackAt(): number | null {
    if (this.epoch === null) return null;
    if (this.ackImmediate) return this.lastAckAt + ACK_MIN_GAP_MS;
    if (this.pendingChunks === 0) return null;
    const idle = Math.min(Math.max(ACK_IDLE_MS, 2 * this.rxGap), ACK_IDLE_MAX_MS);
    return Math.min(this.lastRecvAt + idle, this.firstPendingAt + ACK_MAX_DELAY_MS);
  }

  /** The ACK to send at `now` (only when {@link ackAt} is not null): nothing is owed after it. */
  takeAck(now: number): AckFrame {
    let sack = 0;
    for (let i = 0; i < 32; i++) if (this.rxBuf.has((this.next + 1 + i) & 0xff)) sack |= 1 << i;
    this.stats.acksSent++;
    this.lastAckAt = now;
    this.ackImmediate = false;
    this.pendingChunks = this.pendingBytes = 0;
    return { kind: 'ack', epoch: this.epoch!, next: this.next, sack: sack >>> 0 };
  }

  /** The RST owed, if any (it is then no longer owed). */
  takeRst(now: number): RstFrame | null {
    if (this.rstEpoch === null) return null;
    const f: RstFrame = { kind: 'rst', epoch: this.rstEpoch };
    this.stats.rstsSent++;
    this.lastRstAt = now;
    this.rstEpoch = null;
    return f;
  }

  /**
   * A chunk of an epoch we have not adopted. A START chunk adopts it (true: go on with the chunk).
   * Otherwise it is a stream we are not in (we were reset, or its START was lost): ask the sender
   * to start over — but within the first window START was more likely lost or overtaken, so RST
   * only once START has not come within 200 ms (an RST overtaking our ACK would restart the
   * stream), and keep whole chunks of that first window in case the sender only resends START.
   */
  private enter(f: DataFrame | FragFrame, now: number): boolean {
    if (!f.start) {
      const firstLap = f.kind === 'data' && f.seq < ARQ_MAX_WINDOW;
      if (firstLap && this.tentEpoch !== f.epoch) {
        this.tentEpoch = f.epoch;
        this.tentSince = now;
        this.tentBuf.clear();
      }
      if ((!firstLap || now >= this.tentSince + TENTATIVE_MS) && now >= this.lastRstAt + RST_MIN_GAP_MS) this.rstEpoch = f.epoch;
      if (firstLap) this.tentBuf.set(f.seq, { data: f.data.slice(), last: f.last });
      else this.stats.bad++;
      return false;
    }
    this.epoch = f.epoch;
    this.resetStream();
    if (this.tentEpoch === f.epoch) {
      // The sender had nothing acknowledged (it resent START), so these are its first lap.
      for (const [q, c] of this.tentBuf) if (q !== 0) this.rxBuf.set(q, c);
      this.stats.received += this.rxBuf.size;
    }
    this.tentEpoch = null;
    this.tentBuf.clear();
    if (this.rstEpoch === f.epoch) this.rstEpoch = null;
    return true;
  }

  /** Drop the partial message, out-of-order chunks and FRAG buffers; expect seq 0. */
  private resetStream(): void {
    this.next = 0;
    this.rxBuf.clear();
    this.frags.clear();
    this.message.clear();
    this.pendingChunks = this.pendingBytes = 0;
    this.ackImmediate = false;
    this.lastRecvAt = -Infinity;
    this.rxGap = 0;
  }
}
