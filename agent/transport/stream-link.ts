/**
 * A {@link Link} over any duplex byte stream (TCP socket, TLS socket, serial port): frames go out
 * through an encode function, bytes come in through a push-based {@link FrameDecoder}. The stream
 * kind only decides the framing and how to shut the stream down.
 */
import type { Duplex } from 'node:stream';
import type { Link } from '../link.js';
import type { FrameDecoder } from '../../protocol/frame-decoder.js';
import { MAX_FRAME_BYTES } from '../../protocol/constants.js';
import type { SealPolicy } from '../../protocol/seal.js';
import { TooLargeError } from '../../protocol/errors.js';
import { BaseLink } from './base-link.js';
import { TransportError } from './errors.js';

/** Options of a {@link StreamLink}. */
export interface StreamLinkOptions {
  /** Human-readable description, e.g. `tcp://127.0.0.1:7000`. */
  description: string;
  /** Turns received bytes into frame bodies. Owned by the link. */
  decoder: FrameDecoder;
  /** Turns a frame body into wire bytes (may throw `TooLarge`). */
  encode: (body: Uint8Array) => Uint8Array;
  /** Largest body `send` accepts. Default {@link MAX_FRAME_BYTES}. */
  maxFrame?: number;
  /** Sealing policy the link reports ({@link Link.sealPolicy}). Default `require`. */
  sealPolicy?: SealPolicy;
  /** Queued bytes (`writableLength`) at or above which `send` returns false. Default 65536. */
  highWaterMark?: number;
  /** Bytes written once when the link opens (serial: a lone 0x00 ends any partial frame at the receiver). */
  preamble?: Uint8Array;
  /** How `close()` asks the stream to close. Default `stream.end()` (flushes, then FIN). */
  shutdown?: (stream: Duplex) => void;
  /** How a failed link gets rid of its stream. Default `stream.destroy()`. */
  abort?: (stream: Duplex) => void;
  /** If the stream has not emitted `close` this long after `close()`, it is aborted. Default 2000 ms. */
  closeTimeoutMs?: number;
}

/**
 * A framed link over a duplex stream.
 *
 * - `send` encodes and writes; it returns false once `stream.writableLength` reaches the
 *   high-water mark, and `drain` follows when a completed write brings it back below. The
 *   stream's own `write()` return value is not used as the signal because its mark differs per
 *   stream kind (16 KiB sockets, 64 KiB serial ports); the link's mark is the contract.
 * - Decoder errors are emitted as `frame-error`; a fatal decoder result (corrupt TCP length)
 *   closes the link with that error.
 * - `close` is emitted exactly once, with the stream's error if there was one.
 */
export class StreamLink extends BaseLink implements Link {
  readonly description: string;
  readonly maxFrame: number;
  readonly sealPolicy: SealPolicy;
  private readonly hwm: number;
  private isOpen = true;
  private closed = false;
  private needDrain = false;
  private error: Error | undefined;
  private closing: Promise<void> | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private readonly waiters: Array<() => void> = [];
  private frames = 0;

  constructor(
    private readonly stream: Duplex,
    private readonly opts: StreamLinkOptions,
  ) {
    super();
    this.description = opts.description;
    this.maxFrame = Math.min(opts.maxFrame ?? MAX_FRAME_BYTES, MAX_FRAME_BYTES);
    this.sealPolicy = opts.sealPolicy ?? 'require';
    this.hwm = opts.highWaterMark ?? 64 * 1024;
    stream.on('data', this.onData);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
    if (opts.preamble !== undefined) stream.write(opts.preamble);
  }

  /** False once `close()` was called or the stream went away. */
  get open(): boolean {
    return this.isOpen;
  }

  /**
   * Queue one frame body; the link takes ownership of `body` until it is written. Returns false
   * at or above the high-water mark (the frame is still queued). Ignored after close.
   * @throws TooLargeError when `body` exceeds {@link StreamLink.maxFrame}: a caller bug.
   */
  send(body: Uint8Array): boolean {
    if (!this.isOpen) return true;
    if (body.length > this.maxFrame) throw new TooLargeError(`frame body of ${body.length} bytes exceeds ${this.maxFrame}`);
    this.stream.write(this.opts.encode(body), this.afterWrite);
    if (this.stream.writableLength >= this.hwm) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** Complete frames received so far (a listener evicts links that sent none first). */
  get framesReceived(): number {
    return this.frames;
  }

  /** Tear the link down at once, without flushing; `close` follows with `err`. Idempotent. */
  abort(err: Error): void {
    this.fail(err);
  }

  /** Close the link (flushing queued frames where the stream allows); idempotent. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.isOpen = false;
    this.closing = new Promise<void>((resolve) => {
      if (this.closed) return resolve();
      this.waiters.push(resolve);
      this.closeTimer = setTimeout(() => {
        this.abortStream();
        this.finish();
      }, this.opts.closeTimeoutMs ?? 2000);
      try {
        (this.opts.shutdown ?? ((s: Duplex) => s.end()))(this.stream);
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return this.closing;
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.closed) return;
    const r = this.opts.decoder.push(chunk);
    this.frames += r.frames.length;
    for (const f of r.frames) {
      // A listener may close the link while we deliver a batch.
      if (!this.isOpen) break;
      this.deliverFrame(f);
    }
    for (const e of r.errors) this.emit('frame-error', e);
    if (r.fatal) this.fail(r.errors[0] ?? new TransportError('Disconnected', 'framing lost sync'));
  };

  private readonly afterWrite = (err?: Error | null): void => {
    if (err || !this.needDrain || !this.isOpen) return;
    if (this.stream.writableLength < this.hwm) {
      this.needDrain = false;
      this.emit('drain');
    }
  };

  private readonly onError = (err: Error): void => {
    this.error ??= err;
    // Sockets destroy themselves on error; other streams may not, so make sure it goes away.
    this.fail(err);
  };

  private readonly onClose = (arg?: unknown): void => {
    // Serial ports pass a DisconnectedError; sockets pass a boolean `hadError`.
    if (arg instanceof Error) this.error ??= arg;
    this.finish();
  };

  /** Tear the stream down after a fatal condition; `close` follows. */
  private fail(err: Error | undefined): void {
    if (err !== undefined) this.error ??= err;
    this.isOpen = false;
    if (this.closed) return;
    this.abortStream();
    // Give the stream a moment to emit its own `close` (with its error), then finish regardless.
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => this.finish(), 1000);
  }

  private abortStream(): void {
    try {
      (this.opts.abort ?? ((s: Duplex) => s.destroy()))(this.stream);
    } catch {
      // The stream is unusable either way; the caller makes sure `close` is emitted.
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.isOpen = false;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.stream.off('data', this.onData);
    // Keep an error listener: a late error from a dead stream must not crash the process.
    this.stream.off('close', this.onClose);
    this.dropHeld();
    this.emit('close', this.error);
    for (const w of this.waiters.splice(0)) w();
  }
}
