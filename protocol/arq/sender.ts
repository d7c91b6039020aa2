/**
 * The sending half of an ARQ endpoint (docs/PROTOCOL.md §2.1.1): cuts queued messages into
 * chunks on demand, within a window of `window` chunks and `windowBytes` bytes, and retransmits
 * what the peer's ACKs do not cover.
 *
 * - A chunk times out RTO after its last transmission or after the last ACK that made progress,
 *   whichever is later (so delayed ACKs on a slow line cause no spurious resends); after two
 *   timeout rounds without progress only the oldest outstanding chunk is resent (a probe).
 * - RTT samples come only from chunks sent once, and none from an ACK that covers a retransmitted
 *   chunk (Karn; after a repaired hole the others waited for it, not for the line).
 * - A SACK that shows holes resends each at most once per RTT; a known hole times out sooner
 *   than the RTO (see {@link RttEstimator.holeTimeout}). A chunk sent larger than the current
 *   size before the line turned lossy is resent as FRAGs of the current size.
 * - Epochs, RST and restarts: see {@link ArqSender.onRst} and {@link ArqSender.onAck}.
 */
import { serialFrameLength } from '../serial-frame.js';
import { type AckFrame, encodeChunk } from './wire.js';
import type { LineClock } from './line.js';
import { ACK_MIN_GAP_MS } from './receiver.js';
import { ChunkSizer, RttEstimator } from './rtt.js';
import { SendQueue } from './send-queue.js';
import { type OutChunk, SendWindow } from './send-window.js';
import type { ArqStats } from './stats.js';

/** Sizes and limits of a sender (validated by the endpoint). */
export interface SenderConfig {
  minChunk: number;
  maxChunk: number;
  initialChunk: number;
  window: number;
  windowBytes: number;
}

/** Sender of the outgoing stream. */
export class ArqSender {
  /** Epoch of the outgoing stream. */
  epoch: number;
  readonly rtt = new RttEstimator();
  readonly size: ChunkSizer;
  private readonly queue = new SendQueue();
  private readonly window = new SendWindow();

  constructor(
    private readonly cfg: SenderConfig,
    private readonly line: LineClock,
    private readonly stats: ArqStats,
    private readonly random: () => number,
  ) {
    this.size = new ChunkSizer(cfg.minChunk, cfg.maxChunk, cfg.initialChunk, Math.max(1, cfg.window >> 3));
    this.epoch = this.freshEpoch(-1);
    this.syncStats();
  }

  /** Bytes of messages queued and not yet fully acknowledged. */
  get queuedBytes(): number {
    return this.queue.bytes;
  }

  /** True while any message is queued or unacknowledged. */
  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** Queue one non-empty message (kept by reference; the endpoint checks the limits). */
  send(message: Uint8Array): void {
    this.queue.push(message);
  }

  /** Drop everything and pick a new epoch. */
  reset(): void {
    this.epoch = this.freshEpoch(this.epoch);
    this.queue.clear();
    this.window.clear();
    this.size.reset();
    this.rtt.reset();
    this.syncStats();
  }

  /** Append the frames due at `now`: retransmissions first (they hold the window back), then new chunks. */
  poll(now: number, out: Uint8Array[]): void {
    const probe = this.probeChunk();
    for (const c of this.window.chunks) {
      if (this.line.busy(now)) return;
      if (c.sacked) continue;
      if (c.fast) this.transmit(c, now, out);
      else if ((probe === null || c === probe) && now >= this.dueAt(c)) {
        this.lossEvent(now);
        this.rtt.timeout(now);
        this.transmit(c, now, out);
      }
    }
    while (this.canCut() && !this.line.busy(now)) this.transmit(this.window.add(this.queue.cut(this.size.size), now), now, out);
  }

  /** When data work is due (`now`: at once), Infinity when none; not yet limited by the line. */
  dataAt(now: number): number {
    let at = this.canCut() ? now : Infinity;
    const probe = this.probeChunk();
    for (const c of this.window.chunks) {
      if (c.sacked) continue;
      if (c.fast) at = now;
      else if (probe === null || c === probe) at = Math.min(at, this.dueAt(c));
    }
    return at;
  }

  /**
   * Handle an ACK. One of another epoch is ignored. One naming a `next` beyond what was sent is
   * stale (frames may be duplicated or reordered) — except before anything of this stream was
   * acknowledged: then the receiver is in an older stream that had the same epoch byte (the
   * peer's previous life drew it too, 1 in 256) and would take our chunks as its duplicates, so
   * the stream restarts under a new epoch.
   */
  onAck(ack: AckFrame, now: number): void {
    if (ack.epoch !== this.epoch) return;
    const done = this.window.advance(ack.next);
    if (done === null) {
      if (!this.window.acked && this.window.length > 0) this.restartStream();
      return;
    }
    for (const c of done) {
      if (c.tx === 1) this.size.cleanAck();
      if (c.last) this.queue.ackedMessage();
    }
    const { marked, highest } = this.window.sack(ack.sack);
    if (done.length > 0 || marked.length > 0) this.rtt.progress(now);
    // RTT samples from every chunk this ACK newly covers (Karn: see `samples`).
    const covered = [...done.filter((c) => !c.sacked), ...marked];
    this.samples(covered, now);
    // Holes below the highest SACKed chunk are lost: resend each at most once per RTT.
    const gap = this.rtt.holeResendGap();
    let lost = false;
    for (let j = 0; j < highest; j++) {
      const c = this.window.chunks[j]!;
      if (c.sacked) continue;
      c.hole = true;
      if (!c.fast && now >= c.sentAt + gap) {
        c.fast = true;
        lost = true;
      }
    }
    if (lost) this.lossEvent(now);
    this.syncStats();
  }

  /**
   * Handle RST for `epoch`. Before any ACK of the stream made progress the peer has not adopted
   * it yet: resend START (seq 0) now, and count SACKed chunks as outstanding again (the receiver
   * that buffered them is gone). After that the peer was reset mid-stream: restart the stream.
   */
  onRst(epoch: number, now: number): void {
    if (epoch !== this.epoch) return;
    if (this.window.acked) return this.restartStream();
    this.window.unsackAll();
    const first = this.window.chunks[0];
    if (first !== undefined && first.start && now >= first.sentAt + ACK_MIN_GAP_MS) first.fast = true;
  }

  private transmit(c: OutChunk, now: number, out: Uint8Array[]): void {
    // A chunk cut larger than the current size before the line turned lossy goes again as FRAGs.
    const frames = encodeChunk({ epoch: this.epoch, seq: c.seq, last: c.last, start: c.start, data: c.data }, c.tx > 0 ? this.size.size : Infinity);
    let wire = 0;
    for (const f of frames) {
      out.push(f);
      wire += serialFrameLength(f.length);
    }
    if (c.tx === 0) this.stats.sent++;
    else this.stats.resent++;
    c.tx++;
    c.fast = false;
    c.sentAt = this.line.account(now, wire);
    c.deadline = c.sentAt + this.rtt.currentRto;
  }

  /** When a chunk times out (the RTO restarts with every ACK that makes progress, as in TCP). */
  private dueAt(c: OutChunk): number {
    const hole = c.hole ? this.rtt.holeTimeout() : null;
    if (hole !== null) return c.sentAt + hole;
    return Math.max(c.deadline, this.rtt.lastProgressAt + this.rtt.currentRto);
  }

  /** The only chunk a timeout may resend while probing a dead or very bad line, else null. */
  private probeChunk(): OutChunk | null {
    if (!this.rtt.probing) return null;
    for (const c of this.window.chunks) if (!c.sacked) return c;
    return null;
  }

  private canCut(): boolean {
    return this.queue.hasUncut && this.window.length < this.cfg.window && this.window.bytes < this.cfg.windowBytes;
  }

  /** Karn: no sample at all when a covered chunk was retransmitted (after a repaired hole the others waited for it). */
  private samples(covered: OutChunk[], now: number): void {
    if (covered.some((c) => c.tx > 1)) return;
    for (const c of covered) this.rtt.sample(now - c.sentAt);
  }

  private lossEvent(now: number): void {
    this.size.loss(now, this.rtt.baseRtt);
    this.syncStats();
  }

  /** A new epoch from seq 0 (with START), every message not fully acknowledged from its first byte. */
  private restartStream(): void {
    this.stats.restarts++;
    this.epoch = this.freshEpoch(this.epoch);
    this.queue.rewind();
    this.window.clear();
  }

  private freshEpoch(old: number): number {
    for (;;) {
      const e = Math.floor(this.random() * 256) & 0xff;
      if (e !== old) return e;
    }
  }

  private syncStats(): void {
    this.stats.chunkSize = this.size.size;
    this.stats.srtt = this.rtt.srtt;
    this.stats.rto = this.rtt.rto;
  }
}
