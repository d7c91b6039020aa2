/**
 * One end of an ARQ link (docs/PROTOCOL.md §2.1.1): an {@link ArqSender} for the outgoing stream
 * and a {@link ArqReceiver} for the incoming one, sharing one model of the outgoing line.
 *
 * It is pure: no timers, no I/O. The caller passes the time (`now`, ms, any monotonic origin),
 * feeds received frame bodies to {@link ArqEndpoint.receive}, writes what
 * {@link ArqEndpoint.poll} returns and sets one timer from {@link ArqEndpoint.nextWakeup};
 * `ArqDriver` (`driver.ts`) does exactly that with an injected scheduler.
 */
import { MAX_FRAME_BYTES } from '../constants.js';
import { SyncwireError, TooLargeError } from '../errors.js';
import { serialFrameLength } from '../serial-frame.js';
import { ARQ_MAX_CHUNK, ARQ_MAX_WINDOW, decodeArqFrame, encodeArqFrame } from './wire.js';
import { DEFAULT_LEAD_MS, LineClock } from './line.js';
import { ArqReceiver } from './receiver.js';
import { ArqSender } from './sender.js';
import { type ArqStats, zeroStats } from './stats.js';

/** Options of an {@link ArqEndpoint}. */
export interface ArqOptions {
  /** Largest chunk, bytes. Default 2048 (≤ {@link ARQ_MAX_CHUNK}). */
  maxChunk?: number;
  /** Smallest chunk the size adaptation goes down to. Default 32. */
  minChunk?: number;
  /** Chunk size to start with. Default 512 (clamped to [minChunk, maxChunk]): a clean line pays ~2 % at once, a noisy one halves it within a few losses. */
  initialChunk?: number;
  /** Chunks in flight. Default and maximum {@link ARQ_MAX_WINDOW} (64). */
  window?: number;
  /** Bytes of chunk data in flight. Default 8192. */
  windowBytes?: number;
  /** Largest message sent or reassembled. Default {@link MAX_FRAME_BYTES}. */
  maxMessage?: number;
  /** Cap on bytes queued by `send` and not yet acknowledged. Default 256 KiB. */
  maxQueued?: number;
  /** Line rate in bytes per ms (baud / 10 / 1000 for 8N1), when known: see `line.ts`. */
  bytesPerMs?: number;
  /**
   * With `bytesPerMs` set: hand data to the line only while fewer than this many ms of bytes
   * are queued ahead of it (ACKs and RSTs always go at once). Default 25; `Infinity` turns the
   * pacing off (benchmarks compare).
   */
  leadMs?: number;
  /** Random source for epochs (tests inject a seeded one). Default `Math.random`. */
  random?: () => number;
}

const DEFAULT_MAX_QUEUED = 256 * 1024;

/**
 * One end of an ARQ link. After either or both ends `reset()`, the two resynchronise by
 * themselves; only messages in flight at the reset may be lost or delivered twice (the sync
 * protocol tolerates both).
 */
export class ArqEndpoint {
  readonly maxChunk: number;
  readonly minChunk: number;
  readonly window: number;
  readonly windowBytes: number;
  readonly maxMessage: number;
  readonly maxQueued: number;
  /** Counters, updated in place (hold on to the object to watch them). */
  readonly stats: ArqStats = zeroStats();
  private readonly line: LineClock;
  private readonly sender: ArqSender;
  private readonly receiver: ArqReceiver;

  /** @throws RangeError for an option out of its range. */
  constructor(opts: ArqOptions = {}) {
    this.maxChunk = intIn('maxChunk', opts.maxChunk ?? 2048, 1, ARQ_MAX_CHUNK);
    this.minChunk = intIn('minChunk', opts.minChunk ?? Math.min(32, this.maxChunk), 1, this.maxChunk);
    const initialChunk = Math.min(Math.max(opts.initialChunk ?? 512, this.minChunk), this.maxChunk);
    this.window = intIn('window', opts.window ?? ARQ_MAX_WINDOW, 1, ARQ_MAX_WINDOW);
    this.windowBytes = intIn('windowBytes', opts.windowBytes ?? 8192, 1, Number.MAX_SAFE_INTEGER);
    this.maxMessage = intIn('maxMessage', opts.maxMessage ?? MAX_FRAME_BYTES, 1, Number.MAX_SAFE_INTEGER);
    this.maxQueued = intIn('maxQueued', opts.maxQueued ?? DEFAULT_MAX_QUEUED, this.maxMessage, Number.MAX_SAFE_INTEGER);
    const leadMs = opts.leadMs ?? DEFAULT_LEAD_MS;
    if (!(leadMs > 0)) throw new RangeError(`leadMs must be positive: ${leadMs}`);
    this.line = new LineClock(opts.bytesPerMs ?? 0, leadMs);
    this.receiver = new ArqReceiver(this.maxMessage, this.stats);
    const sizes = { minChunk: this.minChunk, maxChunk: this.maxChunk, initialChunk, window: this.window, windowBytes: this.windowBytes };
    this.sender = new ArqSender(sizes, this.line, this.stats, opts.random ?? Math.random);
  }

  /** Bytes of messages queued and not yet fully acknowledged. */
  get queuedBytes(): number {
    return this.sender.queuedBytes;
  }

  /** The epoch of the outgoing stream (diagnostics). */
  get epoch(): number {
    return this.sender.epoch;
  }

  /** True while anything is queued, in flight, or owed to the peer (an ACK or RST). */
  get busy(): boolean {
    return this.sender.busy || this.receiver.owes;
  }

  /**
   * Queue one message. The endpoint keeps a reference: do not modify `message` afterwards.
   * @throws TooLargeError for an empty message or one over `maxMessage`; SyncwireError `Busy`
   * when the queue would exceed `maxQueued` (the link is not draining: a dead line).
   */
  send(message: Uint8Array): void {
    if (message.length === 0) throw new TooLargeError('an ARQ message must not be empty');
    if (message.length > this.maxMessage) throw new TooLargeError(`message of ${message.length} bytes exceeds ${this.maxMessage}`);
    const queued = this.sender.queuedBytes;
    if (queued + message.length > this.maxQueued) {
      throw new SyncwireError('Busy', `ARQ send queue full (${queued} + ${message.length} bytes > ${this.maxQueued})`);
    }
    this.sender.send(message);
  }

  /** Drop all state, both directions, and pick a new epoch (the link was reopened). */
  reset(): void {
    this.sender.reset();
    this.line.reset();
    this.receiver.reset();
  }

  /**
   * Handle one decoded serial frame body. Returns the messages completed by it, in order (each a
   * fresh buffer). Never throws: malformed frames are counted in `stats.bad`.
   */
  receive(body: Uint8Array, now: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const f = decodeArqFrame(body);
    switch (f.kind) {
      case 'data':
      case 'frag':
        this.receiver.onChunk(f, now, out);
        break;
      case 'ack':
        this.sender.onAck(f, now);
        break;
      case 'rst':
        this.sender.onRst(f.epoch, now);
        break;
      case 'malformed':
        this.stats.bad++;
        break;
    }
    return out;
  }

  /** Frame bodies to transmit now, in order (wrap each with `encodeSerialFrame`): RST, ACK, data. */
  poll(now: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const rst = this.receiver.takeRst(now);
    if (rst !== null) this.emit(encodeArqFrame(rst), now, out);
    const ackAt = this.receiver.ackAt();
    if (ackAt !== null && now >= ackAt) this.emit(encodeArqFrame(this.receiver.takeAck(now)), now, out);
    this.sender.poll(now, out);
    return out;
  }

  /** Ms until `poll` has time-driven work (0: now), or null when nothing is pending. */
  nextWakeup(now: number): number | null {
    if (this.receiver.rstOwed) return 0;
    const ackAt = this.receiver.ackAt();
    // Data work, but no sooner than the line has room for it.
    let dataAt = this.sender.dataAt(now);
    if (dataAt !== Infinity) dataAt = this.line.roomAt(dataAt);
    const at = Math.min(dataAt, ackAt ?? Infinity);
    return at === Infinity ? null : Math.max(0, at - now);
  }

  /** An ACK or RST goes out at once: account it on the line (data queues behind it). */
  private emit(f: Uint8Array, now: number, out: Uint8Array[]): void {
    out.push(f);
    this.line.account(now, serialFrameLength(f.length));
  }
}

function intIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in ${min}..${max}: ${v}`);
  return v;
}
