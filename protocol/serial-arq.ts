/**
 * Link-layer ARQ for serial lines: selective-repeat retransmission of message chunks.
 *
 * On a line that drops bytes, a frame of n bytes survives with probability (1 − p)^n, so whole
 * protocol messages (up to 64 KiB) never get through. This layer cuts every message into chunks,
 * sends each chunk as its own serial frame (`encodeSerialFrame`), has the receiver acknowledge
 * selectively and retransmits only what was lost. It is pure: no timers, no I/O; the caller
 * passes the time (`now`, ms, any monotonic origin), feeds received frame bodies to
 * {@link ArqEndpoint.receive}, writes what {@link ArqEndpoint.poll} returns and sets one timer from
 * {@link ArqEndpoint.nextWakeup}.
 *
 * ## Wire format (link frame bodies; each is then wrapped as `COBS(body ‖ CRC-32) ‖ 0x00`)
 *
 * The first byte tells ARQ frames from plain protocol messages: a message always starts with a
 * CBOR array head (0x80–0x9f), every ARQ frame starts with a byte below 0x10.
 *
 * - **DATA** `[0x01 | flags, epoch, seq] ‖ data` — 3-byte header, 1..4096 data bytes.
 *   flags: `0x02` LAST (the chunk ends a message), `0x04` START (first chunk of a stream epoch;
 *   only ever with seq 0), `0x08` must be 0 here. So the first byte is 0x01, 0x03, 0x05 or 0x07.
 * - **FRAG** `[0x09 | flags, epoch, seq, offset u16 BE, total u16 BE] ‖ data` — 7-byte header: a
 *   part (`offset`, length of `data`) of chunk `seq` whose whole length is `total` (1..4096).
 *   Only used to retransmit a chunk that was sent larger than the current chunk size after the
 *   line turned lossy. flags as for DATA (LAST/START describe the whole chunk).
 * - **ACK** `[0x02, epoch, next, sack u32 BE]` — 7 bytes. `epoch` echoes the epoch of the stream
 *   acknowledged; `next` is the next in-order seq expected (every seq before it was received);
 *   bit i (value `1 << i`, i = 0..31) of `sack` says seq `next + 1 + i` was received too.
 * - **RST** `[0x04, epoch]` — 2 bytes: "I am not in your stream `epoch`" (the receiver was reset
 *   and saw a non-START chunk of it). The sender restarts (see below).
 *
 * Sequence numbers are 8 bits and wrap (compared modulo 256). A sender never has more than
 * {@link ARQ_MAX_WINDOW} = 64 chunks in flight; a receiver accepts seqs in `[next, next + 64)`,
 * treats `[next − 128, next)` as duplicates (and re-acknowledges) and drops anything else. With at
 * most 64 outstanding and a FIFO line, 8 bits are unambiguous; the extra byte of a 16-bit seq
 * would cost 0.1–3 % on every chunk for nothing.
 *
 * ### Epochs and resynchronisation
 * Each direction is a *stream* numbered from seq 0 under a random 1-byte `epoch` chosen by its
 * sender. A stream's first chunk carries START. A receiver adopts a new epoch only from a START
 * chunk (that resets its receive side: partial message and out-of-order buffer dropped,
 * `next = 0`). A chunk of an epoch it has not adopted and without START makes it answer RST
 * (at most one per 20 ms) — for whole chunks with seq < 64 only once that epoch has gone 200 ms
 * without its START (START was more likely lost or overtaken); such chunks are kept aside and
 * used if the epoch's START follows (its sender had nothing acknowledged: they are its first lap).
 * A sender getting RST for its current epoch: if nothing of the stream was ever cumulatively
 * acknowledged, it retransmits everything in flight (seq 0 carries START); otherwise the receiver
 * was reset mid-stream, so it picks a new epoch and re-sends every message not yet fully
 * acknowledged from its first byte, from seq 0. ACKs and RSTs for another epoch are ignored.
 * A peer that restarts may draw the epoch byte it had before (1 in 256); the receiver, still in
 * the old stream, then takes the new chunks for its own. So a receiver acknowledges a chunk of
 * its epoch that is neither in its window nor a duplicate, and a sender that gets an ACK of its
 * epoch naming a `next` beyond what it sent, before any ACK of the stream made progress, restarts
 * its stream under a new epoch as on RST.
 * So after either or both ends `reset()`, the two resynchronise by themselves; only messages in
 * flight at the reset may be lost or delivered twice (the sync protocol tolerates both).
 *
 * ### Sender
 * Chunks are cut on demand at the current chunk size, within a window of `window` chunks and
 * `windowBytes` bytes. RTO = srtt + 4·rttvar (RFC 6298; Karn: samples only from chunks sent
 * once, and none if an ACK covers a retransmitted chunk), clamped to [50 ms, 1 s], initially 1 s, doubled per timeout round without progress;
 * a chunk times out RTO after its last transmission or after the last ACK that made progress,
 * whichever is later (so delayed ACKs on a slow line cause no spurious resends). After two
 * timeout rounds without progress only the oldest outstanding chunk is retransmitted (a probe).
 * When the line rate is given (`bytesPerMs`), the send time of a frame is the estimated moment
 * its last byte leaves the UART (frames queue behind one another), so RTT and RTO never count
 * time spent queued locally, and data frames are handed out only while less than 25 ms of bytes
 * are queued ahead of the line, so an ACK never waits behind a window of data. A SACK that shows
 * holes retransmits each hole at most once per RTT (1.5 × the smallest RTT sample, plus the 25 ms
 * the peer's ACK may wait), and a known hole times out after 2 × the smallest RTT plus 25 ms
 * (the receiver acknowledges a chunk that fills a gap at once). Chunk size halves (≥ `minChunk`)
 * on a loss (at most once per 2 RTT and 100 ms), doubles
 * (≤ `maxChunk`) after `window / 8` chunks acknowledged without retransmission.
 *
 * ### Receiver
 * Reassembles in order, buffers out-of-order chunks within the window only, delivers a message
 * when its LAST chunk and everything before it arrived. ACK policy (tuned so a clean bulk
 * transfer spends < 0.5 % on ACKs): immediately on a gap, a chunk filling a gap, a duplicate or
 * a completed message
 * (at most one such ACK per 10 ms), after 8 chunks or 4 KiB received unacknowledged, otherwise
 * when data stops arriving for max(20 ms, 2 × the smoothed gap between chunks) (≤ 150 ms), and
 * at most 100 ms after the first unacknowledged chunk (a sender relies on that bound: its RTO is
 * never below the smallest RTT + 120 ms).
 */
import { MAX_FRAME_BYTES } from './constants.js';
import { SyncwireError, TooLargeError } from './errors.js';
import { serialFrameLength } from './serial-frame.js';

/** Most chunks a sender may have in flight (the receiver's acceptance window). */
export const ARQ_MAX_WINDOW = 64;
/** Largest chunk (DATA payload or FRAG `total`) any endpoint sends or accepts. */
export const ARQ_MAX_CHUNK = 4096;
/** Header bytes of a DATA frame. */
export const ARQ_DATA_HEADER = 3;
/** Header bytes of a FRAG frame. */
export const ARQ_FRAG_HEADER = 7;
/** Bytes of an ACK frame. */
export const ARQ_ACK_BYTES = 7;

/** First-byte values and bits. */
export const ArqKind = {
  /** Bit 0 set: DATA or FRAG. */
  Data: 0x01,
  /** DATA/FRAG flag: last chunk of a message. */
  Last: 0x02,
  /** DATA/FRAG flag: first chunk of a stream epoch (seq 0). */
  Start: 0x04,
  /** DATA flag: this is a FRAG (part of a chunk). */
  Frag: 0x08,
  /** Acknowledgement. */
  Ack: 0x02,
  /** Reset request. */
  Rst: 0x04,
} as const;

/** True when a link frame body is an ARQ frame rather than a plain protocol message. */
export function isArqFrame(body: Uint8Array): boolean {
  return body.length >= 2 && body[0]! < 0x10;
}

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
  /** Line rate in bytes per ms (baud / 10 / 1000 for 8N1), when known: see the module doc. */
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

/** Counters of an endpoint. */
export interface ArqStats {
  /** Chunks sent for the first time. */
  sent: number;
  /** Chunk retransmissions. */
  resent: number;
  /** Distinct chunks received (accepted into the window). */
  received: number;
  /** Chunks received again (already had them). */
  duplicates: number;
  /** ACK frames sent. */
  acksSent: number;
  /** RST frames sent. */
  rstsSent: number;
  /** Stream restarts after a peer reset (new epoch). */
  restarts: number;
  /** Frames dropped as malformed, out of window, for an unknown epoch, or oversized messages. */
  bad: number;
  /** Messages delivered. */
  delivered: number;
  /** Current chunk size. */
  chunkSize: number;
  /** Smoothed RTT, ms (0 before the first sample). */
  srtt: number;
  /** Current base RTO, ms. */
  rto: number;
}

interface OutMsg {
  bytes: Uint8Array;
  /** Next byte to cut into a chunk. */
  off: number;
}

interface OutChunk {
  seq: number;
  data: Uint8Array;
  last: boolean;
  start: boolean;
  /** Transmissions so far. */
  tx: number;
  /** (Estimated) time the last transmission left the line. */
  sentAt: number;
  /** Retransmit when now ≥ deadline. */
  deadline: number;
  sacked: boolean;
  /** Retransmit at the next poll (SACK hole, RST). */
  fast: boolean;
  /** A SACK showed a later chunk arrived: the receiver ACKs this one at once when it comes. */
  hole: boolean;
}

interface Partial {
  buf: Uint8Array;
  mask: Uint8Array;
  have: number;
  last: boolean;
}

interface InChunk {
  data: Uint8Array;
  last: boolean;
}

const MIN_RTO = 50;
const MAX_RTO = 1000;
const INITIAL_RTO = 1000;
const ACK_IDLE_MS = 20;
const ACK_IDLE_MAX_MS = 150;
const ACK_MAX_DELAY_MS = 100;
const ACK_MIN_GAP_MS = 10;
const ACK_EVERY_CHUNKS = 8;
const ACK_EVERY_BYTES = 4096;
const RST_MIN_GAP_MS = 20;
const TENTATIVE_MS = 200;
/**
 * With the line rate known, data frames are handed out only while less than this many ms of
 * bytes are queued ahead of the line: an ACK or RST produced later then waits behind at most that
 * much (plus one frame) instead of behind a whole window — the peer's RTT estimate and hole
 * timers depend on it. Long enough that a late timer does not leave the line idle.
 */
const DEFAULT_LEAD_MS = 25;
const DEFAULT_MAX_QUEUED = 256 * 1024;

/**
 * One end of an ARQ link: a sender for the outgoing stream and a receiver for the incoming one.
 * See the module documentation for the wire format and the rules.
 */
export class ArqEndpoint {
  readonly maxChunk: number;
  readonly minChunk: number;
  readonly window: number;
  readonly windowBytes: number;
  readonly maxMessage: number;
  readonly maxQueued: number;
  readonly stats: ArqStats;
  private readonly initialChunk: number;
  private readonly bytesPerMs: number;
  private readonly leadMs: number;
  private readonly random: () => number;

  // Sender.
  private sendEpoch = 0;
  private msgs: OutMsg[] = [];
  /** Index in `msgs` of the first message not fully cut into chunks. */
  private cutIdx = 0;
  private inflight: OutChunk[] = [];
  private inflightBytes = 0;
  private base = 0;
  private nextSeq = 0;
  private ackedAny = false;
  private queued = 0;
  private chunkSize: number;
  private cleanAcks = 0;
  private lastDecreaseAt = -Infinity;
  private srtt = 0;
  private rttvar = 0;
  private rto = INITIAL_RTO;
  private lineFreeAt = 0;
  private lastProgressAt = -Infinity;
  /** Timeout rounds since the last ACK that made progress (RTO doubles per round). */
  private backoff = 0;
  private timedOutAt = -Infinity;
  private minRtt = Infinity;

  // Receiver.
  private recvEpoch: number | null = null;
  private next = 0;
  private rxBuf = new Map<number, InChunk>();
  private frags = new Map<number, Partial>();
  private assembling: Uint8Array[] = [];
  private assemblingBytes = 0;
  private discarding = false;
  private pendingChunks = 0;
  private pendingBytes = 0;
  private firstPendingAt = 0;
  private lastRecvAt = -Infinity;
  /** Smoothed gap between chunk arrivals, ms (a slow line stretches the idle ACK timer). */
  private rxGap = 0;
  private ackImmediate = false;
  private lastAckAt = -Infinity;
  private rstEpoch: number | null = null;
  private lastRstAt = -Infinity;
  /** Chunks of a stream whose START we have not seen (first window only), by seq. */
  private tentEpoch: number | null = null;
  private tentBuf = new Map<number, InChunk>();
  private tentSince = 0;

  constructor(opts: ArqOptions = {}) {
    this.maxChunk = intIn('maxChunk', opts.maxChunk ?? 2048, 1, ARQ_MAX_CHUNK);
    this.minChunk = intIn('minChunk', opts.minChunk ?? Math.min(32, this.maxChunk), 1, this.maxChunk);
    this.initialChunk = Math.min(Math.max(opts.initialChunk ?? 512, this.minChunk), this.maxChunk);
    this.window = intIn('window', opts.window ?? ARQ_MAX_WINDOW, 1, ARQ_MAX_WINDOW);
    this.windowBytes = intIn('windowBytes', opts.windowBytes ?? 8192, 1, Number.MAX_SAFE_INTEGER);
    this.maxMessage = intIn('maxMessage', opts.maxMessage ?? MAX_FRAME_BYTES, 1, Number.MAX_SAFE_INTEGER);
    this.maxQueued = intIn('maxQueued', opts.maxQueued ?? DEFAULT_MAX_QUEUED, this.maxMessage, Number.MAX_SAFE_INTEGER);
    this.bytesPerMs = opts.bytesPerMs ?? 0;
    this.leadMs = opts.leadMs ?? DEFAULT_LEAD_MS;
    if (!(this.leadMs > 0)) throw new RangeError(`leadMs must be positive: ${this.leadMs}`);
    this.random = opts.random ?? Math.random;
    this.chunkSize = this.initialChunk;
    this.stats = {
      sent: 0, resent: 0, received: 0, duplicates: 0, acksSent: 0, rstsSent: 0, restarts: 0, bad: 0, delivered: 0,
      chunkSize: this.chunkSize, srtt: 0, rto: this.rto,
    };
    this.sendEpoch = this.freshEpoch(-1);
  }

  /** Bytes of messages queued and not yet fully acknowledged. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** The epoch of the outgoing stream (diagnostics). */
  get epoch(): number {
    return this.sendEpoch;
  }

  /** True while anything is queued, in flight, or owed to the peer (an ACK or RST). */
  get busy(): boolean {
    return this.msgs.length > 0 || this.pendingChunks > 0 || this.ackImmediate || this.rstEpoch !== null;
  }

  /**
   * Queue one message. The endpoint keeps a reference: do not modify `message` afterwards.
   * @throws TooLargeError for an empty message or one over `maxMessage`; SyncwireError `Busy`
   * when the queue would exceed `maxQueued` (the link is not draining: a dead line).
   */
  send(message: Uint8Array): void {
    if (message.length === 0) throw new TooLargeError('an ARQ message must not be empty');
    if (message.length > this.maxMessage) throw new TooLargeError(`message of ${message.length} bytes exceeds ${this.maxMessage}`);
    if (this.queued + message.length > this.maxQueued) {
      throw new SyncwireError('Busy', `ARQ send queue full (${this.queued} + ${message.length} bytes > ${this.maxQueued})`);
    }
    this.msgs.push({ bytes: message, off: 0 });
    this.queued += message.length;
  }

  /** Drop all state, both directions, and pick a new epoch (the link was reopened). */
  reset(): void {
    this.sendEpoch = this.freshEpoch(this.sendEpoch);
    this.msgs = [];
    this.cutIdx = 0;
    this.inflight = [];
    this.inflightBytes = 0;
    this.base = this.nextSeq = 0;
    this.ackedAny = false;
    this.queued = 0;
    this.chunkSize = this.initialChunk;
    this.stats.chunkSize = this.chunkSize;
    this.cleanAcks = 0;
    this.lastDecreaseAt = -Infinity;
    this.srtt = this.rttvar = 0;
    this.rto = INITIAL_RTO;
    this.stats.srtt = 0;
    this.stats.rto = this.rto;
    this.lineFreeAt = 0;
    this.lastProgressAt = -Infinity;
    this.backoff = 0;
    this.timedOutAt = -Infinity;
    this.minRtt = Infinity;
    this.recvEpoch = null;
    this.resetRx();
    this.rstEpoch = null;
    this.lastRstAt = -Infinity;
    this.lastAckAt = -Infinity;
    this.tentEpoch = null;
    this.tentBuf.clear();
  }

  /**
   * Handle one decoded serial frame body. Returns the messages completed by it, in order (each a
   * fresh buffer). Never throws: malformed frames are counted in `stats.bad`.
   */
  receive(body: Uint8Array, now: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (body.length < 2) {
      this.stats.bad++;
      return out;
    }
    const k = body[0]!;
    if (k < 0x10 && (k & ArqKind.Data) !== 0) this.onData(body, now, out);
    else if (k === ArqKind.Ack && body.length === ARQ_ACK_BYTES) this.onAck(body, now);
    else if (k === ArqKind.Rst && body.length === 2) this.onRst(body[1]!, now);
    else this.stats.bad++;
    return out;
  }

  /** Frame bodies to transmit now, in order (wrap each with `encodeSerialFrame`). */
  poll(now: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.rstEpoch !== null) {
      out.push(Uint8Array.of(ArqKind.Rst, this.rstEpoch));
      this.account(now, 2);
      this.stats.rstsSent++;
      this.lastRstAt = now;
      this.rstEpoch = null;
    }
    const ackAt = this.ackAt();
    if (ackAt !== null && now >= ackAt) out.push(this.makeAck(now));
    // Retransmissions first: they hold the window back.
    const probe = this.probeChunk();
    for (const c of this.inflight) {
      if (this.lineBusy(now)) return out;
      if (c.sacked) continue;
      if (c.fast) this.transmit(c, now, out);
      else if ((probe === null || c === probe) && now >= this.dueAt(c)) {
        this.lossEvent(now);
        if (now > this.timedOutAt) {
          this.timedOutAt = now;
          this.backoff = Math.min(this.backoff + 1, 8);
        }
        this.transmit(c, now, out);
      }
    }
    // New chunks within the window.
    while (this.canCut() && !this.lineBusy(now)) {
      const m = this.msgs[this.cutIdx]!;
      const len = Math.min(this.chunkSize, m.bytes.length - m.off);
      const c: OutChunk = {
        seq: this.nextSeq,
        data: m.bytes.subarray(m.off, m.off + len),
        last: m.off + len === m.bytes.length,
        start: this.nextSeq === 0 && this.base === 0 && !this.ackedAny && this.inflight.length === 0,
        tx: 0, sentAt: now, deadline: now, sacked: false, fast: false, hole: false,
      };
      m.off += len;
      if (c.last) this.cutIdx++;
      this.nextSeq = (this.nextSeq + 1) & 0xff;
      this.inflight.push(c);
      this.inflightBytes += len;
      this.transmit(c, now, out);
    }
    return out;
  }

  /** Ms until `poll` has time-driven work (0: now), or null when nothing is pending. */
  nextWakeup(now: number): number | null {
    if (this.rstEpoch !== null) return 0;
    const ackAt = this.ackAt();
    // Data work: a fast retransmission or new chunks now, else the earliest retransmission.
    let dataAt = this.canCut() ? now : Infinity;
    const probe = this.probeChunk();
    for (const c of this.inflight) {
      if (c.sacked) continue;
      if (c.fast) dataAt = now;
      else if (probe === null || c === probe) dataAt = Math.min(dataAt, this.dueAt(c));
    }
    // ...but no sooner than the line has room for it.
    if (dataAt !== Infinity && this.bytesPerMs > 0) dataAt = Math.max(dataAt, this.lineFreeAt - this.leadMs);
    const at = Math.min(dataAt, ackAt ?? Infinity);
    return at === Infinity ? null : Math.max(0, at - now);
  }

  /** New chunks may be cut: a message is waiting and the window has room. */
  private canCut(): boolean {
    return this.cutIdx < this.msgs.length && this.inflight.length < this.window && this.inflightBytes < this.windowBytes;
  }

  /** More than `leadMs` of bytes are queued ahead of the line (rate known). */
  private lineBusy(now: number): boolean {
    // The tolerance keeps a wake-up at exactly lineFreeAt − leadMs (see nextWakeup) from
    // finding the line busy by a rounding error and spinning.
    return this.bytesPerMs > 0 && this.lineFreeAt - now > this.leadMs + 1e-3;
  }

  // ---- sender -------------------------------------------------------------------------------

  private transmit(c: OutChunk, now: number, out: Uint8Array[]): void {
    const flags = ArqKind.Data | (c.last ? ArqKind.Last : 0) | (c.start ? ArqKind.Start : 0);
    let wire = 0;
    if (c.tx > 0 && c.data.length > this.chunkSize) {
      // Sent large before the line turned bad: retransmit it in parts of the current size.
      const total = c.data.length;
      for (let off = 0; off < total; off += this.chunkSize) {
        const part = c.data.subarray(off, Math.min(total, off + this.chunkSize));
        const f = new Uint8Array(ARQ_FRAG_HEADER + part.length);
        f[0] = flags | ArqKind.Frag;
        f[1] = this.sendEpoch;
        f[2] = c.seq;
        f[3] = off >> 8;
        f[4] = off & 0xff;
        f[5] = total >> 8;
        f[6] = total & 0xff;
        f.set(part, ARQ_FRAG_HEADER);
        out.push(f);
        wire += serialFrameLength(f.length);
      }
    } else {
      const f = new Uint8Array(ARQ_DATA_HEADER + c.data.length);
      f[0] = flags;
      f[1] = this.sendEpoch;
      f[2] = c.seq;
      f.set(c.data, ARQ_DATA_HEADER);
      out.push(f);
      wire = serialFrameLength(f.length);
    }
    if (c.tx === 0) this.stats.sent++;
    else this.stats.resent++;
    c.tx++;
    c.fast = false;
    c.sentAt = this.account(now, wire, true);
    c.deadline = c.sentAt + this.rtoFor(c);
  }

  /** RTO of a chunk: the base RTO doubled per timeout round without progress, capped. */
  private rtoFor(_c: OutChunk): number {
    return Math.min(this.rto * 2 ** this.backoff, MAX_RTO);
  }

  /**
   * When a chunk times out: RTO after its last transmission, restarted by every ACK that makes
   * progress (as TCP does), so chunks waiting for the receiver's next (delayed) ACK while ACKs
   * keep flowing are not resent.
   */
  private dueAt(c: OutChunk): number {
    // A known hole is acknowledged at once on arrival (it fills a gap): no ACK delay to wait for.
    // (The peer's ACK may wait behind up to its lead of its own data: assume the default.)
    if (c.hole && this.minRtt !== Infinity) return c.sentAt + Math.max(2 * this.minRtt + ACK_MIN_GAP_MS, 30) + DEFAULT_LEAD_MS;
    return Math.max(c.deadline, this.lastProgressAt + this.rtoFor(c));
  }

  /**
   * After repeated timeouts of the oldest outstanding chunk (a dead or very bad line), only that
   * chunk is retransmitted on timeout, as a probe, until an ACK makes progress.
   */
  private probeChunk(): OutChunk | null {
    if (this.backoff < 2) return null;
    for (const c of this.inflight) if (!c.sacked) return c;
    return null;
  }

  /** Account `wire` bytes on the line; returns when they will have left (or `now`). */
  private account(now: number, bodyOrWire: number, isWire = false): number {
    if (this.bytesPerMs <= 0) return now;
    const wire = isWire ? bodyOrWire : serialFrameLength(bodyOrWire);
    this.lineFreeAt = Math.max(now, this.lineFreeAt) + wire / this.bytesPerMs;
    return this.lineFreeAt;
  }

  private onAck(body: Uint8Array, now: number): void {
    if (body[1] !== this.sendEpoch) return; // an old stream's ACK
    const n = body[2]!;
    const sack = ((body[3]! << 24) | (body[4]! << 16) | (body[5]! << 8) | body[6]!) >>> 0;
    const adv = (n - this.base) & 0xff;
    if (adv > this.inflight.length) {
      // Behind base: a stale ACK (frames may be duplicated or reordered). But before anything of
      // this stream was acknowledged no ACK can be stale: `next` names chunks never sent, so the
      // receiver is in an older stream that had the same epoch byte (the peer's previous life
      // drew it too, 1 in 256) and would take our chunks as its duplicates. Start a new stream.
      if (!this.ackedAny && this.inflight.length > 0) this.restartStream();
      return;
    }
    // RTT samples (they include the receiver's ACK delay, which the RTO must cover): from every
    // chunk this ACK newly covers, unless one of them was retransmitted (Karn; and after a
    // repaired hole the others waited for it, not for the line).
    const covered: OutChunk[] = [];
    for (let i = 0; i < adv; i++) {
      const c = this.inflight.shift()!;
      if (!c.sacked) covered.push(c);
      this.acked(c);
    }
    this.base = n;
    if (adv > 0) {
      this.ackedAny = true;
      this.progress(now);
    }
    if (sack === 0) {
      this.samples(covered, now);
      return;
    }
    let highest = -1;
    for (let i = 0; i < 32; i++) {
      if ((sack & (1 << i)) === 0) continue;
      const j = 1 + i; // index in inflight: seq n + 1 + i
      if (j >= this.inflight.length) break;
      const c = this.inflight[j]!;
      if (!c.sacked) {
        c.sacked = true;
        this.inflightBytes -= c.data.length;
        this.progress(now);
        covered.push(c);
      }
      highest = j;
    }
    this.samples(covered, now);
    // Holes below the highest SACKed chunk are lost: resend each at most once per RTT (the
    // smallest seen: srtt also holds the receiver's ACK delays).
    const gap = Math.max(1.5 * (this.minRtt === Infinity ? this.srtt : this.minRtt), ACK_MIN_GAP_MS) + DEFAULT_LEAD_MS;
    let lost = false;
    for (let j = 0; j < highest; j++) {
      const c = this.inflight[j]!;
      if (!c.sacked) c.hole = true;
      if (!c.sacked && !c.fast && now >= c.sentAt + gap) {
        c.fast = true;
        lost = true;
      }
    }
    if (lost) this.lossEvent(now);
  }

  private acked(c: OutChunk): void {
    if (!c.sacked) this.inflightBytes -= c.data.length;
    if (c.tx === 1) {
      // Grow after an eighth of a window of clean acks: on a clean line the overhead per chunk
      // falls to the floor within a few KB; loss halves the size again at once.
      if (++this.cleanAcks >= Math.max(1, this.window >> 3) && this.chunkSize < this.maxChunk) {
        this.chunkSize = Math.min(this.chunkSize * 2, this.maxChunk);
        this.stats.chunkSize = this.chunkSize;
        this.cleanAcks = 0;
      }
    }
    if (c.last) {
      const m = this.msgs.shift()!;
      this.queued -= m.bytes.length;
      this.cutIdx--;
    }
  }

  private samples(covered: OutChunk[], now: number): void {
    if (covered.some((c) => c.tx > 1)) return;
    for (const c of covered) this.sample(now - c.sentAt);
  }

  private progress(now: number): void {
    this.lastProgressAt = now;
    this.backoff = 0;
  }

  private sample(rtt: number): void {
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
    this.stats.srtt = this.srtt;
    this.stats.rto = this.rto;
  }

  private lossEvent(now: number): void {
    this.cleanAcks = 0;
    // One decrease per loss episode: at most once per 2 RTT (and 100 ms).
    const rtt = this.minRtt === Infinity ? this.srtt : this.minRtt;
    if (now < this.lastDecreaseAt + Math.max(2 * rtt, 100)) return;
    this.lastDecreaseAt = now;
    if (this.chunkSize > this.minChunk) {
      this.chunkSize = Math.max(this.minChunk, this.chunkSize >> 1);
      this.stats.chunkSize = this.chunkSize;
    }
  }

  private onRst(epoch: number, now: number): void {
    if (epoch !== this.sendEpoch) return;
    if (!this.ackedAny) {
      // The peer has not adopted this stream yet: resend its START chunk (seq 0) now; anything
      // SACKed so far was buffered by a receiver that is gone, so it is outstanding again.
      for (const c of this.inflight) {
        if (c.sacked) {
          c.sacked = false;
          this.inflightBytes += c.data.length;
        }
      }
      const first = this.inflight[0];
      if (first !== undefined && first.start && now >= first.sentAt + ACK_MIN_GAP_MS) first.fast = true;
      return;
    }
    // The peer was reset mid-stream: start a new stream with every unacknowledged message.
    this.restartStream();
  }

  /** A new epoch from seq 0 (with START), every message not fully acknowledged from its first byte. */
  private restartStream(): void {
    this.stats.restarts++;
    this.sendEpoch = this.freshEpoch(this.sendEpoch);
    for (const m of this.msgs) m.off = 0;
    this.cutIdx = 0;
    this.inflight = [];
    this.inflightBytes = 0;
    this.base = this.nextSeq = 0;
    this.ackedAny = false;
  }

  private freshEpoch(old: number): number {
    for (;;) {
      const e = Math.floor(this.random() * 256) & 0xff;
      if (e !== old) return e;
    }
  }

  // ---- receiver -----------------------------------------------------------------------------

  private resetRx(): void {
    this.next = 0;
    this.rxBuf.clear();
    this.frags.clear();
    this.assembling = [];
    this.assemblingBytes = 0;
    this.discarding = false;
    this.pendingChunks = this.pendingBytes = 0;
    this.ackImmediate = false;
    this.lastRecvAt = -Infinity;
    this.rxGap = 0;
  }

  private onData(body: Uint8Array, now: number, out: Uint8Array[]): void {
    const k = body[0]!;
    const frag = (k & ArqKind.Frag) !== 0;
    const last = (k & ArqKind.Last) !== 0;
    const start = (k & ArqKind.Start) !== 0;
    const hdr = frag ? ARQ_FRAG_HEADER : ARQ_DATA_HEADER;
    if (body.length <= hdr) {
      this.stats.bad++;
      return;
    }
    const epoch = body[1]!;
    const seq = body[2]!;
    if (start && seq !== 0) {
      this.stats.bad++;
      return;
    }
    let off = 0;
    let total = body.length - hdr;
    if (frag) {
      off = (body[3]! << 8) | body[4]!;
      total = (body[5]! << 8) | body[6]!;
      if (total > ARQ_MAX_CHUNK || off + body.length - hdr > total) {
        this.stats.bad++;
        return;
      }
    } else if (total > ARQ_MAX_CHUNK) {
      this.stats.bad++;
      return;
    }
    if (epoch !== this.recvEpoch) {
      if (!start) {
        // A stream we are not in (we were reset, or its START chunk was lost): ask the sender to
        // start over, and keep whole chunks of its first window in case it only resends START.
        // Within the first window it is more likely START was lost or overtaken: RST only if
        // START has not come within 200 ms (an RST overtaking our ACK would restart the stream).
        const firstLap = !frag && seq < ARQ_MAX_WINDOW;
        if (firstLap && this.tentEpoch !== epoch) {
          this.tentEpoch = epoch;
          this.tentSince = now;
          this.tentBuf.clear();
        }
        if ((!firstLap || now >= this.tentSince + TENTATIVE_MS) && now >= this.lastRstAt + RST_MIN_GAP_MS) this.rstEpoch = epoch;
        if (!firstLap) {
          this.stats.bad++;
          return;
        }
        this.tentBuf.set(seq, { data: body.slice(hdr), last });
        return;
      }
      this.recvEpoch = epoch;
      this.resetRx();
      if (this.tentEpoch === epoch) {
        // The sender had nothing acknowledged (it resent START), so these are its first lap.
        for (const [q, c] of this.tentBuf) if (q !== 0) this.rxBuf.set(q, c);
        this.stats.received += this.rxBuf.size;
      }
      this.tentEpoch = null;
      this.tentBuf.clear();
      if (this.rstEpoch === epoch) this.rstEpoch = null;
    }
    const d = (seq - this.next) & 0xff;
    if (d >= ARQ_MAX_WINDOW) {
      if (d >= 128) {
        this.stats.duplicates++;
        this.ackImmediate = true; // our ACK was probably lost
      } else {
        // Never sent by a sender in step with us (its window is 64): tell it where we are, so a
        // sender whose stream merely shares our epoch byte sees `next` ahead of it and restarts.
        this.stats.bad++;
        this.ackImmediate = true;
      }
      return;
    }
    if (this.rxBuf.has(seq)) {
      this.stats.duplicates++;
      this.ackImmediate = true;
      return;
    }
    let data: Uint8Array;
    if (frag) {
      let p = this.frags.get(seq);
      if (p === undefined || p.buf.length !== total) {
        p = { buf: new Uint8Array(total), mask: new Uint8Array(total), have: 0, last };
        this.frags.set(seq, p);
      }
      const part = body.subarray(hdr);
      for (let i = 0; i < part.length; i++) {
        if (p.mask[off + i] === 0) {
          p.mask[off + i] = 1;
          p.have++;
        }
      }
      p.buf.set(part, off);
      if (p.have < total) return;
      this.frags.delete(seq);
      data = p.buf;
    } else {
      this.frags.delete(seq);
      data = body.slice(hdr);
    }
    this.stats.received++;
    this.rxBuf.set(seq, { data, last });
    if (this.pendingChunks === 0) this.firstPendingAt = now;
    this.pendingChunks++;
    this.pendingBytes += data.length;
    if (this.lastRecvAt > -Infinity) this.rxGap = 0.75 * this.rxGap + 0.25 * Math.min(now - this.lastRecvAt, ACK_IDLE_MAX_MS);
    this.lastRecvAt = now;
    // A gap, or a chunk filling one: tell the sender at once.
    if (d > 0 || this.rxBuf.size > 1) this.ackImmediate = true;
    for (let c = this.rxBuf.get(this.next); c !== undefined; c = this.rxBuf.get(this.next)) {
      this.rxBuf.delete(this.next);
      this.next = (this.next + 1) & 0xff;
      this.assemble(c, out);
    }
    if (this.pendingChunks >= ACK_EVERY_CHUNKS || this.pendingBytes >= ACK_EVERY_BYTES) this.ackImmediate = true;
  }

  private assemble(c: InChunk, out: Uint8Array[]): void {
    if (!this.discarding) {
      if (this.assemblingBytes + c.data.length > this.maxMessage) {
        this.discarding = true;
        this.stats.bad++;
        this.assembling = [];
        this.assemblingBytes = 0;
      } else {
        this.assembling.push(c.data);
        this.assemblingBytes += c.data.length;
      }
    }
    if (!c.last) return;
    if (!this.discarding) {
      const parts = this.assembling;
      const msg = parts.length === 1 ? parts[0]! : concat(parts, this.assemblingBytes);
      out.push(msg);
      this.stats.delivered++;
      this.ackImmediate = true;
    }
    this.discarding = false;
    this.assembling = [];
    this.assemblingBytes = 0;
  }

  /** When the next ACK is due, or null when none is owed. */
  private ackAt(): number | null {
    if (this.recvEpoch === null) return null;
    if (this.ackImmediate) return this.lastAckAt + ACK_MIN_GAP_MS;
    if (this.pendingChunks === 0) return null;
    const idle = Math.min(Math.max(ACK_IDLE_MS, 2 * this.rxGap), ACK_IDLE_MAX_MS);
    return Math.min(this.lastRecvAt + idle, this.firstPendingAt + ACK_MAX_DELAY_MS);
  }

  private makeAck(now: number): Uint8Array {
    let sack = 0;
    for (let i = 0; i < 32; i++) if (this.rxBuf.has((this.next + 1 + i) & 0xff)) sack |= 1 << i;
    const f = Uint8Array.of(ArqKind.Ack, this.recvEpoch!, this.next, sack >>> 24, (sack >>> 16) & 0xff, (sack >>> 8) & 0xff, sack & 0xff);
    this.account(now, f.length);
    this.stats.acksSent++;
    this.lastAckAt = now;
    this.ackImmediate = false;
    this.pendingChunks = this.pendingBytes = 0;
    return f;
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function intIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in ${min}..${max}: ${v}`);
  return v;
}
