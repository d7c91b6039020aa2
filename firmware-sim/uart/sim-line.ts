/**
 * One direction of a simulated serial line: the sender's bounded transmit buffer, the wire that
 * clocks bytes out at the baud rate, the one-way latency and the faults applied on the way.
 *
 * Pacing is computed from a virtual clock (`txClock`, the instant the next queued byte starts on
 * the wire) rather than from how often the caller ticks, so late timers delay delivery but never
 * lose throughput, and the wire never runs faster than the line rate.
 */

/** Bit times per byte on an 8N1 line: start bit, 8 data bits, stop bit. */
export const BITS_PER_BYTE_8N1 = 10;

/**
 * mulberry32: a tiny seeded PRNG, so fault patterns repeat exactly for a given seed.
 * @returns a function yielding uniform floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Faults of a simulated line; every field may be changed at runtime. */
export interface SimFaults {
  /** Probability that each data bit is inverted (start/stop bits are not modelled). Default 0. */
  bitErrorRate: number;
  /** Probability that each byte is lost on the wire. Default 0. */
  dropRate: number;
  /** One-way delay added after a byte's last bit leaves the sender, in ms. Default 0. */
  latencyMs: number;
}

/**
 * Counters of one direction. Once the line is idle,
 * `written = delivered + dropped + overrun + discarded + buffered`.
 */
export interface SimDirectionStats {
  /** Bytes accepted into the sender's transmit buffer by `write()`. */
  written: number;
  /** Bytes handed to the receiving application by `read()`. */
  delivered: number;
  /** Bytes lost to `dropRate`. */
  dropped: number;
  /** Data bits inverted by `bitErrorRate`. */
  bitsFlipped: number;
  /** Bytes lost because the receiver's driver buffer was full (a UART overrun). */
  overrun: number;
  /** Bytes thrown away by unplug, flush, close, or arriving at a port nobody has open. */
  discarded: number;
  /** Bytes replaced by noise because a port's baud rate does not match the line's. */
  garbled: number;
  /** Bytes in the sender's transmit buffer, not yet on the wire. */
  queued: number;
  /** Bytes on the wire or in the latency delay, not yet at the receiver. */
  inFlight: number;
  /** Bytes in the receiver's driver buffer, not yet read. */
  buffered: number;
}

interface Flight {
  /** `performance.now()` instant at which the chunk reaches the receiver. */
  at: number;
  bytes: Buffer;
}

/** One direction of a {@link SimLink}; internal to `firmware-sim`. */
export class SimLine {
  /** Counters; `buffered` is maintained by the receiving endpoint. */
  readonly stats: SimDirectionStats = {
    written: 0, delivered: 0, dropped: 0, bitsFlipped: 0, overrun: 0, discarded: 0, garbled: 0,
    queued: 0, inFlight: 0, buffered: 0,
  };
  private readonly queue: Buffer[] = [];
  private readonly flights: Flight[] = [];
  private txClock = 0;
  private bitsToNextFlip = Infinity;
  private waiters: (() => void)[] = [];

  /**
   * @param baudRate line rate in bit/s; 8N1 framing gives `baudRate / 10` bytes/s.
   * @param txBufferBytes capacity of the sender's transmit buffer.
   */
  constructor(
    readonly baudRate: number,
    readonly txBufferBytes: number,
    private readonly faults: SimFaults,
    private readonly rng: () => number,
  ) {
    this.resetFaults();
  }

  /** Free room in the transmit buffer, in bytes. */
  get space(): number {
    return this.txBufferBytes - this.stats.queued;
  }

  /** True while bytes are queued or in flight, i.e. while the line needs ticking. */
  get busy(): boolean {
    return this.stats.queued > 0 || this.flights.length > 0;
  }

  /** Re-arm the bit-error sampler after `faults.bitErrorRate` changed. */
  resetFaults(): void {
    this.bitsToNextFlip = this.flipGap();
  }

  /**
   * Copy as much of `src` as fits into the transmit buffer (the caller may reuse `src`).
   * @returns the number of bytes accepted, 0 when the buffer is full.
   */
  enqueue(src: Uint8Array, now: number): number {
    const n = Math.min(src.length, this.space);
    if (n <= 0) return 0;
    // An idle wire starts clocking now, not at the stale instant it last went quiet.
    if (this.stats.queued === 0) this.txClock = Math.max(this.txClock, now);
    this.queue.push(Buffer.from(src.subarray(0, n)));
    this.stats.queued += n;
    this.stats.written += n;
    return n;
  }

  /** Resolves at the next change: bytes left the transmit buffer, or {@link wake} was called. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Wake every {@link changed} waiter so it re-checks its port's state. */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /**
   * Move the bytes whose last bit has left the wire by `now` into flight (applying faults), and
   * return the chunks whose latency has elapsed, in order.
   */
  advance(now: number): Buffer[] {
    const byteMs = (BITS_PER_BYTE_8N1 * 1000) / this.baudRate;
    const n = Math.min(this.stats.queued, Math.floor((now - this.txClock) / byteMs));
    if (n > 0) {
      const sent = this.take(n);
      this.txClock += n * byteMs;
      const bytes = this.applyFaults(sent);
      this.stats.inFlight += bytes.length;
      // Stamped with the last byte's completion: a chunk never arrives before the wire allows.
      if (bytes.length > 0) this.flights.push({ at: this.txClock + this.faults.latencyMs, bytes });
      this.wake();
    }
    const due: Buffer[] = [];
    while (this.flights.length > 0 && this.flights[0]!.at <= now) {
      const f = this.flights.shift()!;
      this.stats.inFlight -= f.bytes.length;
      due.push(f.bytes);
    }
    return due;
  }

  /** Discard untransmitted bytes (flush); with `wire`, also those in flight (unplug). */
  discard(wire: boolean): void {
    this.stats.discarded += this.stats.queued;
    this.queue.length = 0;
    this.stats.queued = 0;
    if (wire) {
      this.stats.discarded += this.stats.inFlight;
      this.flights.length = 0;
      this.stats.inFlight = 0;
    }
    this.wake();
  }

  /** Replace bytes by noise, as a receiver sampling at the wrong baud rate would see them. */
  garble(bytes: Buffer): Buffer {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(this.rng() * 256);
    this.stats.garbled += bytes.length;
    return bytes;
  }

  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.queue[0]!;
      const k = Math.min(head.length, n - filled);
      head.copy(out, filled, 0, k);
      filled += k;
      if (k === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(k);
    }
    this.stats.queued -= n;
    return out;
  }

  /** Drops and bit flips, drawn byte by byte so the pattern does not depend on chunking. */
  private applyFaults(sent: Buffer): Buffer {
    const { dropRate } = this.faults;
    let w = 0;
    for (let r = 0; r < sent.length; r++) {
      if (dropRate > 0 && this.rng() < dropRate) {
        this.stats.dropped++;
        continue;
      }
      let byte = sent[r]!;
      while (this.bitsToNextFlip < 8) {
        byte ^= 1 << this.bitsToNextFlip;
        this.stats.bitsFlipped++;
        this.bitsToNextFlip += 1 + this.flipGap();
      }
      this.bitsToNextFlip -= 8;
      sent[w++] = byte;
    }
    return sent.subarray(0, w);
  }

  /** Bits until the next flip: geometric sampling costs one draw per flip, not one per bit. */
  private flipGap(): number {
    const p = this.faults.bitErrorRate;
    if (!(p > 0)) return Infinity;
    if (p >= 1) return 0;
    return Math.floor(Math.log(1 - this.rng()) / Math.log(1 - p));
  }
}
