/**
 * TCP (and TLS) framing: `u32 big-endian body length ‖ body`. TCP already checksums and orders
 * bytes, so there is no CRC; a length over the cap cannot be resynchronised and is fatal.
 */
import { MAX_FRAME_BYTES } from './constants.js';
import { TooLargeError } from './errors.js';
import type { FrameDecoder, FrameDecodeResult } from './frame-decoder.js';

/** Bytes of the length prefix. */
export const TCP_HEADER_BYTES = 4;

/** Encode one frame body for a TCP stream. */
export function encodeTcpFrame(body: Uint8Array): Uint8Array {
  if (body.length > MAX_FRAME_BYTES) throw new TooLargeError(`frame body of ${body.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const out = new Uint8Array(TCP_HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, TCP_HEADER_BYTES);
  return out;
}

/** Push-based decoder for length-prefixed frames. */
export class TcpFrameDecoder implements FrameDecoder {
  private header = new Uint8Array(TCP_HEADER_BYTES);
  private headerLen = 0;
  private body: Uint8Array | null = null;
  private bodyLen = 0;
  private dead = false;

  /** @param maxBody largest body accepted (default {@link MAX_FRAME_BYTES}). */
  constructor(readonly maxBody = MAX_FRAME_BYTES) {}

  /** Feed received bytes; returns complete frames, or a fatal `TooLarge` error. */
  push(chunk: Uint8Array): FrameDecodeResult {
    const frames: Uint8Array[] = [];
    if (this.dead) return { frames, errors: [], fatal: true };
    let i = 0;
    while (i < chunk.length) {
      if (this.body === null) {
        const n = Math.min(TCP_HEADER_BYTES - this.headerLen, chunk.length - i);
        this.header.set(chunk.subarray(i, i + n), this.headerLen);
        this.headerLen += n;
        i += n;
        if (this.headerLen < TCP_HEADER_BYTES) break;
        const len = new DataView(this.header.buffer).getUint32(0, false);
        if (len > this.maxBody) {
          this.dead = true;
          return { frames, errors: [new TooLargeError(`TCP frame length ${len} exceeds ${this.maxBody}`)], fatal: true };
        }
        this.body = new Uint8Array(len);
        this.bodyLen = 0;
        this.headerLen = 0;
      }
      const n = Math.min(this.body.length - this.bodyLen, chunk.length - i);
      this.body.set(chunk.subarray(i, i + n), this.bodyLen);
      this.bodyLen += n;
      i += n;
      if (this.bodyLen === this.body.length) {
        frames.push(this.body);
        this.body = null;
      }
    }
    return { frames, errors: [], fatal: false };
  }

  /** Forget any partial frame and a previous fatal state. */
  reset(): void {
    this.headerLen = 0;
    this.body = null;
    this.bodyLen = 0;
    this.dead = false;
  }
}
