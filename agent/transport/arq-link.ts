/**
 * A {@link Link} over a serial byte stream with the link-layer ARQ of `protocol/serial-arq.ts`:
 * each message is cut into chunks, each chunk is its own serial frame, lost chunks are
 * retransmitted. It is a {@link StreamLink} (same options, same close/error handling) whose
 * decoder feeds an {@link ArqEndpoint} and whose `send` queues into it, so swapping it into the
 * serial transport is `new StreamLink(port, {...})` → `new ArqLink(port, {...})`.
 *
 * - The link's high-water mark applies to the ARQ queue (bytes sent and not yet acknowledged):
 *   `send` returns false at or above it and `drain` follows once acknowledgements bring it back
 *   below. Past the ARQ's hard cap (256 KiB) further messages are dropped (counted in
 *   `droppedMessages`): a dead line cannot grow memory, the sync protocol repairs the loss.
 * - A received frame whose first byte is not an ARQ kind (a plain message, CBOR array head
 *   0x80–0x9f) is delivered as is, so a peer without ARQ can still reach this end.
 * - One timer drives retransmissions and delayed ACKs.
 */
import type { Duplex } from 'node:stream';
import { ArqEndpoint, isArqFrame, type ArqOptions } from '../../protocol/serial-arq.js';
import type { FrameDecoder, FrameDecodeResult } from '../../protocol/frame-decoder.js';
import { TooLargeError } from '../../protocol/errors.js';
import { MAX_FRAME_BYTES } from '../../protocol/constants.js';
import { StreamLink, type StreamLinkOptions } from './stream-link.js';

/** Options of an {@link ArqLink}: those of a {@link StreamLink} plus the ARQ's. */
export interface ArqLinkOptions extends StreamLinkOptions {
  /** Line rate, bit/s (8N1), so RTTs exclude time queued locally. Default: unknown. */
  baudRate?: number;
  /** ARQ tuning (chunk sizes, window). */
  arq?: ArqOptions;
}

/** The decoder handed to {@link StreamLink}: link frames in, delivered messages out. */
class ArqDecoder implements FrameDecoder {
  onOutput: () => void = () => undefined;
  constructor(
    private readonly inner: FrameDecoder,
    private readonly arq: ArqEndpoint,
  ) {}

  push(chunk: Uint8Array): FrameDecodeResult {
    const r = this.inner.push(chunk);
    const frames: Uint8Array[] = [];
    const now = performance.now();
    for (const body of r.frames) {
      if (isArqFrame(body)) frames.push(...this.arq.receive(body, now));
      else frames.push(body);
    }
    if (r.frames.length > 0) this.onOutput();
    return { frames, errors: r.errors, fatal: r.fatal };
  }

  reset(): void {
    this.inner.reset();
  }
}

/** A serial link with selective-repeat ARQ. */
export class ArqLink extends StreamLink {
  /** The ARQ endpoint (its `stats` are worth logging). */
  readonly arq: ArqEndpoint;
  /** Messages dropped because the ARQ queue was at its hard cap. */
  droppedMessages = 0;
  private readonly out: Duplex;
  private readonly encodeFrame: (body: Uint8Array) => Uint8Array;
  private readonly arqHwm: number;
  private readonly maxBody: number;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private wantDrain = false;
  private pumping = false;
  private dead = false;

  constructor(stream: Duplex, opts: ArqLinkOptions) {
    const arq = new ArqEndpoint({
      // Reassemble nothing larger than the link accepts: an oversized message is dropped chunk by
      // chunk as it arrives instead of being buffered up to 64 KiB and refused afterwards.
      maxMessage: Math.min(opts.maxFrame ?? MAX_FRAME_BYTES, MAX_FRAME_BYTES),
      ...(opts.baudRate !== undefined && opts.baudRate > 0 ? { bytesPerMs: opts.baudRate / 10 / 1000 } : {}),
      ...opts.arq,
    });
    const decoder = new ArqDecoder(opts.decoder, arq);
    super(stream, { ...opts, decoder });
    this.arq = arq;
    this.out = stream;
    this.encodeFrame = opts.encode;
    this.maxBody = this.maxFrame;
    this.arqHwm = Math.min(opts.highWaterMark ?? 64 * 1024, arq.maxQueued);
    decoder.onOutput = () => this.pump();
    this.once('close', () => {
      this.dead = true;
      this.clearTimer();
      this.arq.reset();
    });
  }

  /**
   * Queue one message. Returns false at or above the high-water mark (the message is still
   * queued). Ignored after close.
   * @throws TooLargeError when `body` exceeds `maxFrame`.
   */
  override send(body: Uint8Array): boolean {
    if (!this.open || this.dead) return true;
    if (body.length > this.maxBody) throw new TooLargeError(`frame body of ${body.length} bytes exceeds ${this.maxBody}`);
    if (body.length === 0) return true;
    try {
      this.arq.send(body);
    } catch {
      this.droppedMessages++;
    }
    this.pump();
    if (this.arq.queuedBytes >= this.arqHwm) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  /** Write whatever the ARQ has to send now and re-arm the timer. */
  private pump(): void {
    if (this.pumping || this.dead) return;
    this.pumping = true;
    try {
      const now = performance.now();
      for (const f of this.arq.poll(now)) {
        if (this.out.destroyed || !this.out.writable) break;
        this.out.write(this.encodeFrame(f));
      }
      const w = this.arq.nextWakeup(performance.now());
      this.arm(w);
    } finally {
      this.pumping = false;
    }
    if (this.wantDrain && this.arq.queuedBytes < this.arqHwm && this.open) {
      this.wantDrain = false;
      this.emit('drain');
    }
  }

  private arm(w: number | null): void {
    if (w === null) {
      this.clearTimer();
      return;
    }
    const at = performance.now() + w;
    if (this.timer !== null && this.timerAt <= at + 1) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(1, Math.ceil(w)));
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }
}
