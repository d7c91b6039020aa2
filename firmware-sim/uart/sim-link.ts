/**
 * The shared wire model: a {@link SimLink} joins two named endpoints with one {@link SimLine} per
 * direction, like a null-modem cable between two UARTs. Links register their paths in the
 * registry they are given, so tests can keep many independent links apart.
 */
import { type SimDirectionStats, type SimFaults, SimLine, mulberry32 } from './sim-line.js';
import { SimEndpoint, type SimRegistry } from './sim-endpoint.js';
import { unpluggedError } from './sim-errors.js';

/** Options of {@link createSimLink}. */
export interface SimLinkOptions extends Partial<SimFaults> {
  /** Path of the first end, e.g. `/dev/simA`. */
  pathA: string;
  /** Path of the second end, e.g. `/dev/simB`. */
  pathB: string;
  /** Line rate in bit/s, 8N1 (10 bit times per byte). Ports must open at this rate. Default 115200. */
  baudRate?: number;
  /** Seed of the fault PRNG; the same seed and bytes give the same faults. Default 1. */
  seed?: number;
  /** Per-sender transmit buffer; `write()` waits while it is full. Default 4096. */
  txBufferBytes?: number;
  /** Per-receiver driver buffer; bytes beyond it are overrun. Default 65536. */
  rxBufferBytes?: number;
  /** How often the wire delivers while busy, in ms. Default 2. */
  tickMs?: number;
  /** Where the paths are registered (required: there is no shared default; see sim-binding.ts). */
  registry: SimRegistry;
}

/** Counters of both directions of a link. */
export interface SimLinkStats {
  aToB: SimDirectionStats;
  bToA: SimDirectionStats;
}

/** Two simulated serial ports joined by a null-modem cable. Create with {@link createSimLink}. */
export class SimLink {
  /** Line rate in bit/s. */
  readonly baudRate: number;
  /** The registry holding both paths. */
  readonly registry: SimRegistry;
  /** First end (`pathA`). */
  readonly a: SimEndpoint;
  /** Second end (`pathB`). */
  readonly b: SimEndpoint;
  private readonly faults: SimFaults;
  private readonly tickMs: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private isPlugged = true;
  private disposed = false;

  constructor(options: SimLinkOptions) {
    this.baudRate = options.baudRate ?? 115200;
    if (!(this.baudRate > 0)) throw new RangeError(`baudRate must be positive: ${this.baudRate}`);
    this.registry = options.registry;
    this.tickMs = options.tickMs ?? 2;
    this.faults = { bitErrorRate: 0, dropRate: 0, latencyMs: 0 };
    checkFaults({ ...this.faults, ...pickFaults(options) });
    Object.assign(this.faults, pickFaults(options));
    const seed = options.seed ?? 1;
    const tx = options.txBufferBytes ?? 4096;
    const rx = options.rxBufferBytes ?? 65536;
    // One PRNG per direction: each direction's faults depend only on its own byte stream.
    const ab = new SimLine(this.baudRate, tx, this.faults, mulberry32(seed));
    const ba = new SimLine(this.baudRate, tx, this.faults, mulberry32(seed ^ 0x5bd1e995));
    this.a = new SimEndpoint(this, options.pathA, ab, ba, rx);
    this.b = new SimEndpoint(this, options.pathB, ba, ab, rx);
    this.a.peer = this.b;
    this.b.peer = this.a;
    this.registry.add(this.a);
    try {
      this.registry.add(this.b);
    } catch (err) {
      this.registry.remove(this.a);
      throw err;
    }
  }

  /** False between {@link unplug} and {@link replug}. */
  get plugged(): boolean {
    return this.isPlugged;
  }

  /** Current faults (a copy). */
  getFaults(): SimFaults {
    return { ...this.faults };
  }

  /** Change faults at runtime; bytes already on the wire keep the faults they got. @throws RangeError */
  setFaults(faults: Partial<SimFaults>): void {
    const next = { ...this.faults, ...pickFaults(faults) };
    checkFaults(next);
    Object.assign(this.faults, next);
    this.a.outgoing.resetFaults();
    this.b.outgoing.resetFaults();
  }

  /**
   * Pull the adapter: open ports fail every pending and later read and write with `ENXIO`
   * (the stream then closes with `disconnected: true`), bytes in buffers and on the wire are
   * lost, and the paths vanish from `list()` and fail `open()` with `ENOENT`. Idempotent.
   */
  unplug(): void {
    if (!this.isPlugged) return;
    this.isPlugged = false;
    for (const end of [this.a, this.b]) {
      const port = end.port;
      end.port = null;
      end.dtr = end.rts = false;
      const error = unpluggedError(end.path);
      port?.kill(error);
      end.cancelRead(error);
      end.clearRx();
      end.outgoing.discard(true);
    }
  }

  /** Plug the adapter back in: the paths can be opened again. Ports from before stay dead. */
  replug(): void {
    if (this.disposed) throw new Error('simulated link was disposed');
    this.isPlugged = true;
  }

  /** Snapshot of the counters of both directions. */
  stats(): SimLinkStats {
    return { aToB: { ...this.a.outgoing.stats }, bToA: { ...this.b.outgoing.stats } };
  }

  /** Unplug for good, stop the timer and free both paths in the registry. */
  dispose(): void {
    this.unplug();
    this.disposed = true;
    this.stop();
    this.registry.remove(this.a);
    this.registry.remove(this.b);
  }

  /** Start ticking if bytes are waiting; called by the binding after each write. */
  kick(): void {
    if (this.timer === null && (this.a.outgoing.busy || this.b.outgoing.busy)) {
      this.timer = setInterval(this.tick, this.tickMs);
    }
  }

  private readonly tick = (): void => {
    const now = performance.now();
    for (const end of [this.a, this.b]) {
      for (const chunk of end.outgoing.advance(now)) end.peer.receive(chunk);
    }
    // Idle links hold no timer, so a finished test or program exits on its own.
    if (!this.a.outgoing.busy && !this.b.outgoing.busy) this.stop();
  };

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/** Create a link and register both of its paths (in `options.registry`, default the shared one). */
export function createSimLink(options: SimLinkOptions): SimLink {
  return new SimLink(options);
}

function pickFaults(f: Partial<SimFaults>): Partial<SimFaults> {
  const out: Partial<SimFaults> = {};
  if (f.bitErrorRate !== undefined) out.bitErrorRate = f.bitErrorRate;
  if (f.dropRate !== undefined) out.dropRate = f.dropRate;
  if (f.latencyMs !== undefined) out.latencyMs = f.latencyMs;
  return out;
}

function checkFaults(f: SimFaults): void {
  if (!(f.bitErrorRate >= 0 && f.bitErrorRate <= 1)) throw new RangeError(`bitErrorRate must be in [0, 1]: ${f.bitErrorRate}`);
  if (!(f.dropRate >= 0 && f.dropRate <= 1)) throw new RangeError(`dropRate must be in [0, 1]: ${f.dropRate}`);
  if (!(f.latencyMs >= 0 && Number.isFinite(f.latencyMs))) throw new RangeError(`latencyMs must be >= 0: ${f.latencyMs}`);
}
