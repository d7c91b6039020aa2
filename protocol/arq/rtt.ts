/**
 * The sender's clocks and sizes (docs/PROTOCOL.md §2.1.1, "Retransmission"):
 *
 * - {@link RttEstimator}: RTO = srtt + 4·rttvar (RFC 6298), clamped to [50 ms, 1 s], initially
 *   1 s, never below the smallest RTT + 120 ms (a receiver may hold an ACK 100 ms), doubled per
 *   timeout round without progress (at most 2^8). Samples include the peer's ACK delay, which the
 *   RTO must cover; Karn's rule (which chunks give samples) is the sender's call. It also times
 *   SACK holes from the smallest RTT seen.
 * - {@link ChunkSizer}: the chunk size halves (≥ min) on a loss, at most once per 2 RTT and
 *   100 ms, and doubles (≤ max) after a number of chunks acknowledged without retransmission.
 */
import { DEFAULT_LEAD_MS } from './line.js';
import { ACK_MAX_DELAY_MS, ACK_MIN_GAP_MS } from './receiver.js';

/** Smallest RTO, ms. */
export const MIN_RTO = 50;
/** Largest RTO (also with backoff), ms. */
export const MAX_RTO = 1000;
/** RTO before the first sample, ms. */
export const INITIAL_RTO = 1000;
/** Most timeout rounds counted into the backoff. */
const MAX_BACKOFF = 8;

/** RTT estimate and retransmission timing of one sender. */
export class RttEstimator {
  /** Smoothed RTT, ms (0 before the first sample). */
  srtt = 0;
  rttvar = 0;
  /** Base RTO, ms. */
  rto = INITIAL_RTO;
  /** Smallest sample, ms (Infinity before the first). */
  minRtt = Infinity;
  /** Timeout rounds since the last ACK that made progress (the RTO doubles per round). */
  backoff = 0;
  /** When an ACK last made progress (a chunk's timeout restarts from it). */
  lastProgressAt = -Infinity;
  private timedOutAt = -Infinity;

  /** Back to the state before any sample. */
  reset(): void {
    this.srtt = this.rttvar = 0;
    this.rto = INITIAL_RTO;
    this.minRtt = Infinity;
    this.backoff = 0;
    this.lastProgressAt = -Infinity;
    this.timedOutAt = -Infinity;
  }

  /** Feed one RTT sample, ms (negative values count as 0). */
  sample(rtt: number): void {
    const r = Math.max(0, rtt);
    this.minRtt = Math.min(this.minRtt, r);
    if (this.srtt === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    // A receiver may hold its ACK up to ACK_MAX_DELAY_MS: never time out before that.
    const floor = Math.max(MIN_RTO, this.minRtt + ACK_MAX_DELAY_MS + 20);
    this.rto = Math.min(Math.max(this.srtt + Math.max(1, 4 * this.rttvar), floor), MAX_RTO);
  }

  /** An ACK made progress at `now`: the backoff ends and timeouts restart from now. */
  progress(now: number): void {
    this.lastProgressAt = now;
    this.backoff = 0;
  }

  /** A chunk timed out at `now`: one more backoff round (chunks timing out together count once). */
  timeout(now: number): void {
    if (now <= this.timedOutAt) return;
    this.timedOutAt = now;
    this.backoff = Math.min(this.backoff + 1, MAX_BACKOFF);
  }

  /** The RTO in force: the base RTO doubled per timeout round without progress, capped. */
  get currentRto(): number {
    return Math.min(this.rto * 2 ** this.backoff, MAX_RTO);
  }

  /** After two timeout rounds without progress only the oldest outstanding chunk is resent (a probe). */
  get probing(): boolean {
    return this.backoff >= 2;
  }

  /** The RTT to reason with: the smallest sample (srtt also holds ACK delays), else srtt. */
  get baseRtt(): number {
    return this.minRtt === Infinity ? this.srtt : this.minRtt;
  }

  /**
   * How long after its last transmission a SACK hole may be resent again: about once per RTT
   * (1.5 × {@link baseRtt}, at least the peer's ACK gap), plus the lead the peer's ACK may wait
   * behind its own data.
   */
  holeResendGap(): number {
    return Math.max(1.5 * this.baseRtt, ACK_MIN_GAP_MS) + DEFAULT_LEAD_MS;
  }

  /**
   * How long after its last transmission a known hole times out, or null before any sample: a
   * chunk that fills a gap is acknowledged at once, so there is no ACK delay to wait for — only
   * 2 × the smallest RTT, the peer's ACK gap, and its lead (assumed the default).
   */
  holeTimeout(): number | null {
    return this.minRtt === Infinity ? null : Math.max(2 * this.minRtt + ACK_MIN_GAP_MS, 30) + DEFAULT_LEAD_MS;
  }
}

/** The sender's chunk size. */
export class ChunkSizer {
  /** Current chunk size, bytes. */
  size: number;
  private clean = 0;
  private lastDecreaseAt = -Infinity;

  /**
   * @param min smallest size the adaptation goes down to
   * @param max largest size
   * @param initial size to start (and restart) with, within [min, max]
   * @param growAfter clean acknowledgements that double the size (≥ 1)
   */
  constructor(
    readonly min: number,
    readonly max: number,
    readonly initial: number,
    readonly growAfter: number,
  ) {
    if (!(min >= 1 && min <= initial && initial <= max && growAfter >= 1)) {
      throw new RangeError(`chunk sizes need 1 ≤ min ≤ initial ≤ max and growAfter ≥ 1: ${min}, ${initial}, ${max}, ${growAfter}`);
    }
    this.size = initial;
  }

  /** Back to the initial size. */
  reset(): void {
    this.size = this.initial;
    this.clean = 0;
    this.lastDecreaseAt = -Infinity;
  }

  /** A chunk sent once was acknowledged: on a clean line the overhead per chunk falls to the floor within a few KB. */
  cleanAck(): void {
    if (++this.clean >= this.growAfter && this.size < this.max) {
      this.size = Math.min(this.size * 2, this.max);
      this.clean = 0;
    }
  }

  /** A loss at `now` with the given RTT: one halving per loss episode (2 RTT, at least 100 ms). */
  loss(now: number, rtt: number): void {
    this.clean = 0;
    if (now < this.lastDecreaseAt + Math.max(2 * rtt, 100)) return;
    this.lastDecreaseAt = now;
    if (this.size > this.min) this.size = Math.max(this.min, this.size >> 1);
  }
}
