/**
 * A {@link Link} over a serial byte stream with the link-layer ARQ of `protocol/arq/`
 * (PROTOCOL.md §2.1.1): each message is cut into chunks, each chunk is its own serial frame, lost
 * chunks are retransmitted. It is a {@link StreamLink} (same options, same close/error handling)
 * whose decoder feeds an {@link ArqEndpoint} and whose `send` queues into it, so swapping it into
 * the serial transport is `new StreamLink(port, {...})` → `new ArqLink(port, {...})`.
 *
 * - The link's high-water mark applies to the ARQ queue (bytes sent and not yet acknowledged):
 *   `send` returns false at or above it and `drain` follows once acknowledgements bring it back
 *   below. Past the ARQ's hard cap (256 KiB) further messages are dropped (counted in
 *   `droppedMessages`): a dead line cannot grow memory, the sync protocol repairs the loss.
 * - A received frame whose first byte is not an ARQ kind (a plain message, CBOR array head
 *   0x80–0x9f) is delivered as is, so a peer without ARQ can still reach this end.
 * - One timer drives retransmissions and delayed ACKs: an {@link ArqDriver} on Node's timers.
 */
import type { Duplex } from 'node:stream';
import { ArqDriver, type ArqScheduler } from '../../protocol/arq/driver.js';
import { ArqEndpoint, type ArqOptions } from '../../protocol/arq/endpoint.js';
import { isArqFrame } from '../../protocol/arq/wire.js';
import type { FrameDecoder, FrameDecodeResult } from '../../protocol/frame-decoder.js';
import { TooLargeError } from '../../protocol/errors.js';
import { MAX_FRAME_BYTES } from '../../protocol/constants.js';
import { StreamLink, type StreamLinkOptions } from './stream-link.js';

/** Node's clock and timers; a pending retransmission never keeps the process alive. */
const nodeScheduler: ArqScheduler = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Options of an {@link ArqLink}: those of a {@link StreamLink} plus the ARQ's. */
export interface ArqLinkOptions extends StreamLinkOptions {
  /** Line rate, bit/s (8N1), so RTTs exclude time queued locally. Default: unknown. */
  baudRate?: number;
  /** ARQ tuning (chunk sizes, window). */
  arq?: ArqOptions;
}

/** The decoder handed to {@link StreamLink}: link frames in, delivered messages out. */
class ArqDecoder implements FrameDecoder {
  /** Set once the link's driver exists: pumps after every batch of frames (an ACK may be due). */
  onOutput: () => void = () => undefined;
  constructor(
    private readonly inner: FrameDecoder,
    private readonly arq: ArqEndpoint,
  ) {}

  push(chunk: Uint8Array): FrameDecodeResult {
    const r = this.inner.push(chunk);
    const frames: Uint8Array[] = [];
    const now = nodeScheduler.now();
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
  private readonly driver: ArqDriver;
  private readonly arqHwm: number;
  private readonly maxBody: number;
  private wantDrain = false;
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
    this.maxBody = this.maxFrame;
    this.arqHwm = Math.min(opts.highWaterMark ?? 64 * 1024, arq.maxQueued);
    const encode = opts.encode;
    this.driver = new ArqDriver(arq, {
      scheduler: nodeScheduler,
      write: (f) => {
        if (!stream.destroyed && stream.writable) stream.write(encode(f));
      },
      afterPump: () => this.drainIfBelow(),
    });
    decoder.onOutput = () => this.driver.pump();
    this.once('close', () => {
      this.dead = true;
      this.driver.close();
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
    this.driver.pump();
    if (this.arq.queuedBytes >= this.arqHwm) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  /** After a pump: `drain` once acknowledgements brought the queue below the high-water mark. */
  private drainIfBelow(): void {
    if (this.wantDrain && this.arq.queuedBytes < this.arqHwm && this.open) {
      this.wantDrain = false;
      this.emit('drain');
    }
  }
}
