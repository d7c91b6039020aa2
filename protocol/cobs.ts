/**
 * Consistent Overhead Byte Stuffing: removes every 0x00 from a byte string at a cost of one byte
 * per started 254-byte run (plus one), so 0x00 can delimit frames on a byte stream.
 */
import { MalformedError } from './errors.js';

/** Largest encoded size of `n` input bytes. */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

/** COBS-encode `src` into `dst` at `offset`; returns the offset after the last written byte. */
export function cobsEncodeInto(src: Uint8Array, dst: Uint8Array, offset: number): number {
  let codePos = offset;
  let out = offset + 1;
  let code = 1;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0) {
      dst[codePos] = code;
      codePos = out++;
      code = 1;
    } else {
      dst[out++] = b;
      code++;
      if (code === 0xff) {
        dst[codePos] = code;
        codePos = out++;
        code = 1;
      }
    }
  }
  dst[codePos] = code;
  return out;
}

/** COBS-encode `src` (no delimiter). */
export function cobsEncode(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(cobsMaxEncodedLength(src.length));
  return dst.subarray(0, cobsEncodeInto(src, dst, 0));
}

/**
 * Decode one COBS block (without its delimiter).
 * @throws MalformedError when a code byte is 0 or points past the end.
 */
export function cobsDecode(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(src.length);
  let out = 0;
  let i = 0;
  while (i < src.length) {
    const code = src[i]!;
    if (code === 0) throw new MalformedError('COBS block contains a zero byte');
    if (i + code > src.length) {
      throw new MalformedError('COBS code points past the end of the block');
    }
    for (let k = 1; k < code; k++) dst[out++] = src[i + k]!;
    i += code;
    if (code !== 0xff && i < src.length) dst[out++] = 0;
  }
  return dst.subarray(0, out);
}
