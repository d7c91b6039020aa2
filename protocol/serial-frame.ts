/**
 * Serial stream framing: `COBS(body ‖ CRC-32(body) as 4 bytes little-endian) ‖ 0x00`.
 *
 * Overhead is 6 bytes (1 COBS + 4 CRC + 1 delimiter) while body + CRC fit in 253 bytes, then at
 * most one more byte per further 254 (none when the data has a zero byte at least every 254).
 * The decoder is pure and push-based: feed it whatever the UART delivered, it returns whole
 * frames and typed errors, resynchronises at the next 0x00 after garbage, and never holds more
 * than one maximum frame.
 */
import { crc32 } from './crc32.js';
import { cobsDecode, cobsEncodeInto, cobsMaxEncodedLength } from './cobs.js';
import { MAX_FRAME_BYTES } from './constants.js';
import { CrcMismatchError, MalformedError, TooLargeError, type SyncwireError } from './errors.js';
import type { FrameDecoder, FrameDecodeResult } from './frame-decoder.js';

/** Bytes of CRC appended to every serial frame body. */
export const SERIAL_CRC_BYTES = 4;

/** Wire bytes a serial frame of `bodyLength` bytes takes. */
export function serialFrameLength(bodyLength: number): number {
  return cobsMaxEncodedLength(bodyLength + SERIAL_CRC_BYTES) + 1;
}

/** Encode one frame body for a serial line (delimiter included). */
export function encodeSerialFrame(body: Uint8Array): Uint8Array {
  if (body.length > MAX_FRAME_BYTES) throw new TooLargeError(`frame body of ${body.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const withCrc = new Uint8Array(body.length + SERIAL_CRC_BYTES);
  withCrc.set(body, 0);
  new DataView(withCrc.buffer).setUint32(body.length, crc32(body), true);
  const out = new Uint8Array(serialFrameLength(body.length));
  const end = cobsEncodeInto(withCrc, out, 0);
  out[end] = 0;
  return out.subarray(0, end + 1);
}

/** Push-based serial frame decoder with a fixed-size buffer. */
export class SerialFrameDecoder implements FrameDecoder {
  private readonly buf: Uint8Array;
  private len = 0;
  private overflowing = false;
  /**
   * @param maxBody largest body accepted (default {@link MAX_FRAME_BYTES}); larger frames are
   * discarded up to the next delimiter and reported as `TooLarge`.
   */
  constructor(readonly maxBody = MAX_FRAME_BYTES) {
    this.buf = new Uint8Array(cobsMaxEncodedLength(maxBody + SERIAL_CRC_BYTES));
  }

  /** Feed received bytes; returns the frames completed and the errors found in them. */
  push(chunk: Uint8Array): FrameDecodeResult {
    const frames: Uint8Array[] = [];
    const errors: SyncwireError[] = [];
    let start = 0;
    for (;;) {
      const zero = chunk.indexOf(0, start);
      const end = zero < 0 ? chunk.length : zero;
      this.append(chunk, start, end);
      if (zero < 0) break;
      this.finish(frames, errors);
      start = zero + 1;
    }
    return { frames, errors, fatal: false };
  }

  /** Drop any partial frame (after a link reset). */
  reset(): void {
    this.len = 0;
    this.overflowing = false;
  }

  private append(chunk: Uint8Array, from: number, to: number): void {
    if (from === to || this.overflowing) return;
    if (this.len + (to - from) > this.buf.length) {
      this.overflowing = true;
      return;
    }
    this.buf.set(chunk.subarray(from, to), this.len);
    this.len += to - from;
  }

  private finish(frames: Uint8Array[], errors: SyncwireError[]): void {
    if (this.overflowing) {
      errors.push(new TooLargeError(`serial frame exceeds ${this.maxBody} bytes; discarded`));
    } else if (this.len > 0) {
      const r = decodeBlock(this.buf.subarray(0, this.len));
      // The buffer is sized for the worst-case COBS overhead, so a zero-rich block can still
      // decode to a body a few bytes over the cap: check the decoded length too.
      if (r instanceof Uint8Array && r.length > this.maxBody) {
        errors.push(new TooLargeError(`serial frame of ${r.length} bytes exceeds ${this.maxBody}; discarded`));
      } else if (r instanceof Uint8Array) frames.push(r);
      else errors.push(r);
    }
    this.reset();
  }
}

function decodeBlock(block: Uint8Array): Uint8Array | SyncwireError {
  let raw: Uint8Array;
  try {
    raw = cobsDecode(block);
  } catch (err) {
    return err instanceof MalformedError ? err : new MalformedError('bad COBS block');
  }
  if (raw.length < SERIAL_CRC_BYTES + 1) return new MalformedError(`serial frame of ${raw.length} bytes is too short`);
  const bodyLen = raw.length - SERIAL_CRC_BYTES;
  const body = raw.subarray(0, bodyLen);
  const want = new DataView(raw.buffer, raw.byteOffset).getUint32(bodyLen, true);
  if (crc32(body) !== want) return new CrcMismatchError(`CRC mismatch on a ${bodyLen}-byte frame`);
  return body;
}
