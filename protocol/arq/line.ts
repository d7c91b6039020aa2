/**
 * The endpoint's estimate of its own outgoing line, shared by the sender (data, retransmissions)
 * and the receiver (ACKs, RSTs): with the line rate known, frames queue behind one another, so a
 * frame "leaves" when its last byte is estimated to leave the UART. RTT samples then never count
 * time spent queued locally, and data is handed out only while little is queued ahead of the line.
 */

/**
 * With the line rate known, data frames are handed out only while less than this many ms of
 * bytes are queued ahead of the line: an ACK or RST produced later then waits behind at most that
 * much (plus one frame) instead of behind a whole window — the peer's RTT estimate and hole
 * timers depend on it. Long enough that a late timer does not leave the line idle. A sender also
 * assumes its peer uses this lead when it waits for the ACK of a hole.
 */
export const DEFAULT_LEAD_MS = 25;

/** Queue model of one outgoing line. */
export class LineClock {
  /** When everything accounted so far will have left, ms (0: idle since the start). */
  private freeAt = 0;

  /**
   * @param bytesPerMs line rate (baud / 10 / 1000 for 8N1); 0 or less: unknown, nothing is
   *   modelled and every frame "leaves" when it is handed out.
   * @param leadMs data is held back while more than this many ms are queued (rate known).
   */
  constructor(
    readonly bytesPerMs: number,
    readonly leadMs: number,
  ) {}

  /** True when the line rate is known. */
  get paced(): boolean {
    return this.bytesPerMs > 0;
  }

  /** Account `wireBytes` handed to the line at `now`; returns when they will have left (or `now`). */
  account(now: number, wireBytes: number): number {
    if (this.bytesPerMs <= 0) return now;
    this.freeAt = Math.max(now, this.freeAt) + wireBytes / this.bytesPerMs;
    return this.freeAt;
  }

  /** More than `leadMs` of bytes are queued ahead of the line (rate known). */
  busy(now: number): boolean {
    // The tolerance keeps a wake-up at exactly freeAt − leadMs (see `roomAt`) from finding the
    // line busy by a rounding error and spinning.
    return this.bytesPerMs > 0 && this.freeAt - now > this.leadMs + 1e-3;
  }

  /** The earliest time at or after `at` when data may be handed out again. */
  roomAt(at: number): number {
    return this.bytesPerMs > 0 ? Math.max(at, this.freeAt - this.leadMs) : at;
  }

  /** Forget the queue (the link was reopened). */
  reset(): void {
    this.freeAt = 0;
  }
}
