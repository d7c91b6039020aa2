/**
 * The protocol's CBOR codec, written for its strict subset (PROTOCOL.md §3): unsigned and negative
 * integers up to 2^53-1, byte and text strings, arrays, `false`, `true`, `null`; definite lengths,
 * shortest (canonical) heads; no maps, tags or floats. Nothing else is needed, so no general
 * CBOR library is loaded (one cost 7 MB of resident memory with its native accelerator).
 *
 * Decoding is one pass that validates as it builds: the size cap first, then for every item its
 * head (canonical, supported), and every declared length is proven to fit in the input before
 * anything is allocated for it. Byte strings are copied out, so no message pins a receive buffer.
 */
import { MAX_CBOR_DEPTH, MAX_FRAME_BYTES } from './constants.js';
import { MalformedError, TooLargeError } from './errors.js';

/** A value of the CBOR subset the protocol uses. */
export type CborValue = number | boolean | null | string | Uint8Array | CborValue[];

const utf8Encoder = new TextEncoder();

/**
 * Encode a value as canonical CBOR of the protocol's subset (shortest heads, definite lengths).
 * Strings are UTF-8. The result is a fresh buffer.
 * @throws MalformedError for a number that is not an integer within ±(2^53-1), or a value outside
 * the subset.
 */
export function encodeCbor(value: CborValue): Uint8Array {
  const texts: Uint8Array[] = [];
  const out = new Uint8Array(sizeOf(value, texts));
  const end = write(value, out, 0, texts, { next: 0 });
  if (end !== out.length) throw new Error(`CBOR size mismatch: ${end} != ${out.length}`); // a bug here, not bad input
  return out;
}

/**
 * Bytes the head of an item with argument `n` takes: the length of a string or array, or an
 * unsigned integer (the protocol's shortest-head rule, §3). Exact byte budgets build on it
 * (`protocol/budget.ts`).
 */
export function cborHeadLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

function sizeOf(v: CborValue, texts: Uint8Array[]): number {
  if (typeof v === 'number') return cborHeadLength(intArg(v));
  if (typeof v === 'boolean' || v === null) return 1;
  if (typeof v === 'string') {
    const t = utf8Encoder.encode(v);
    texts.push(t);
    return cborHeadLength(t.length) + t.length;
  }
  if (v instanceof Uint8Array) return cborHeadLength(v.length) + v.length;
  if (Array.isArray(v)) {
    let n = cborHeadLength(v.length);
    for (const x of v) n += sizeOf(x, texts);
    return n;
  }
  throw new MalformedError(`value of type ${typeof v} is outside the protocol's CBOR subset`);
}

/** The head argument of an integer (n for n ≥ 0, −1 − n below). */
function intArg(v: number): number {
  if (!Number.isSafeInteger(v)) throw new MalformedError(`number ${v} is not an integer within ±(2^53-1)`);
  return v >= 0 ? v : -1 - v;
}

/**
 * Write the shortest head of major type `major` (0 uint, 2 bytes, 4 array, …) with argument `n`
 * at `pos` of `out`; returns the position after it. For encoders of fixed layouts that write
 * straight into their final buffer; `n` must be a non-negative safe integer.
 */
export function writeCborHead(major: number, n: number, out: Uint8Array, pos: number): number {
  const m = major << 5;
  if (n < 24) {
    out[pos] = m | n;
    return pos + 1;
  }
  if (n < 0x100) {
    out[pos] = m | 24;
    out[pos + 1] = n;
    return pos + 2;
  }
  if (n < 0x10000) {
    out[pos] = m | 25;
    out[pos + 1] = n >>> 8;
    out[pos + 2] = n & 0xff;
    return pos + 3;
  }
  if (n < 0x100000000) {
    out[pos] = m | 26;
    out[pos + 1] = n >>> 24;
    out[pos + 2] = (n >>> 16) & 0xff;
    out[pos + 3] = (n >>> 8) & 0xff;
    out[pos + 4] = n & 0xff;
    return pos + 5;
  }
  out[pos] = m | 27;
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  for (let i = 0; i < 4; i++) out[pos + 4 - i] = (hi >>> (8 * i)) & 0xff;
  for (let i = 0; i < 4; i++) out[pos + 8 - i] = (lo >>> (8 * i)) & 0xff;
  return pos + 9;
}

function write(v: CborValue, out: Uint8Array, pos: number, texts: Uint8Array[], t: { next: number }): number {
  if (typeof v === 'number') return writeCborHead(v >= 0 ? 0 : 1, intArg(v), out, pos);
  if (v === false || v === true || v === null) {
    out[pos] = v === false ? 0xf4 : v === true ? 0xf5 : 0xf6;
    return pos + 1;
  }
  if (typeof v === 'string') {
    const bytes = texts[t.next++]!;
    const p = writeCborHead(3, bytes.length, out, pos);
    out.set(bytes, p);
    return p + bytes.length;
  }
  if (v instanceof Uint8Array) {
    const p = writeCborHead(2, v.length, out, pos);
    out.set(v, p);
    return p + v.length;
  }
  let p = writeCborHead(4, v.length, out, pos);
  for (const x of v) p = write(x, out, p, texts, t);
  return p;
}

/**
 * Decode exactly one well-formed, canonical CBOR item of the protocol's subset. Byte strings are
 * fresh copies, or with `views` views into `bytes` (for a caller that owns `bytes` and keeps it
 * unchanged, or copies what it keeps: no allocation per string); 8-byte integers are exact numbers
 * (at most 2^53-1).
 * @throws TooLargeError when `bytes` is longer than `maxBytes` (default {@link MAX_FRAME_BYTES}).
 * @throws MalformedError for anything else: truncation, trailing bytes, non-canonical heads,
 * indefinite lengths, maps, tags, floats, invalid UTF-8, nesting deeper than `maxDepth`.
 */
export function decodeCbor(bytes: Uint8Array, maxBytes = MAX_FRAME_BYTES, maxDepth = MAX_CBOR_DEPTH, views = false): CborValue {
  if (bytes.length > maxBytes) throw new TooLargeError(`CBOR item of ${bytes.length} bytes exceeds ${maxBytes}`);
  if (bytes.length === 0) throw new MalformedError('empty CBOR input');
  const r: Reader = { pos: 0, views };
  const v = readItem(bytes, r, maxDepth);
  if (r.pos !== bytes.length) throw new MalformedError(`${bytes.length - r.pos} trailing bytes after CBOR item`);
  return v;
}

// ignoreBOM keeps a leading U+FEFF in the string (the default would strip it and re-encode differently).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Where a decode is (`pos`: the next byte) and how it returns byte strings. */
interface Reader {
  pos: number;
  readonly views: boolean;
}

function readItem(b: Uint8Array, r: Reader, depthLeft: number): CborValue {
  const pos = r.pos;
  if (pos >= b.length) throw new MalformedError(`truncated CBOR at offset ${pos}`);
  const head = b[pos]!;
  const major = head >> 5;
  const info = head & 31;
  switch (major) {
    case 0:
    case 1: {
      const n = readArg(b, pos, info, r);
      return major === 0 ? n : -1 - n;
    }
    case 2:
    case 3: {
      const len = readArg(b, pos, info, r);
      const start = r.pos;
      if (start + len > b.length) throw new MalformedError(`string of ${len} bytes overruns input at offset ${pos}`);
      r.pos = start + len;
      if (major === 2) return r.views ? b.subarray(start, start + len) : b.slice(start, start + len);
      try {
        return utf8.decode(b.subarray(start, start + len));
      } catch {
        throw new MalformedError(`invalid UTF-8 at offset ${pos}`);
      }
    }
    case 4: {
      if (depthLeft <= 0) throw new MalformedError(`nesting deeper than ${MAX_CBOR_DEPTH} at offset ${pos}`);
      const count = readArg(b, pos, info, r);
      const start = r.pos;
      // Every element takes at least one byte: a count beyond the input is a lie, refuse it
      // before anything is allocated for it.
      if (start + count > b.length) throw new MalformedError(`array of ${count} items overruns input at offset ${pos}`);
      const arr: CborValue[] = new Array<CborValue>(count);
      for (let i = 0; i < count; i++) arr[i] = readItem(b, r, depthLeft - 1);
      return arr;
    }
    case 7:
      r.pos = pos + 1;
      if (info === 20) return false;
      if (info === 21) return true;
      if (info === 22) return null;
      throw new MalformedError(`unsupported simple value or float 0x${head.toString(16)} at offset ${pos}`);
    default:
      throw new MalformedError(`unsupported CBOR major type ${major} at offset ${pos}`);
  }
}

/** Read the argument of the item head at `pos`: returns it, and moves `r` past the head (no tuple allocated per item). */
function readArg(b: Uint8Array, pos: number, info: number, r: Reader): number {
  if (info < 24) {
    r.pos = pos + 1;
    return info;
  }
  const need = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
  if (need < 0) throw new MalformedError(`unsupported additional info ${info} at offset ${pos}`);
  if (pos + 1 + need > b.length) throw new MalformedError(`truncated item head at offset ${pos}`);
  let v = 0;
  for (let i = 1; i <= need; i++) v = v * 256 + b[pos + i]!;
  if (v > Number.MAX_SAFE_INTEGER) throw new MalformedError(`integer too large at offset ${pos}`);
  const min = need === 1 ? 24 : need === 2 ? 0x100 : need === 4 ? 0x10000 : 0x100000000;
  if (v < min) throw new MalformedError(`non-canonical length or integer at offset ${pos}`);
  r.pos = pos + 1 + need;
  return v;
}
