/**
 * CBOR codec settings and a strict well-formedness scan.
 *
 * Encoding uses cbor-x configured for plain RFC 8949 output (no record extension, no tag 64 on
 * byte strings). Decoding first runs {@link scanCbor} over the input: it enforces the size cap,
 * the subset of CBOR the protocol uses, the nesting limit and the canonical (shortest) form of
 * every length and integer, and it proves that every declared length fits in the input before
 * cbor-x allocates anything. Only then does cbor-x build the values, copying byte strings out of
 * the input so no message pins a receive buffer.
 */
import { Decoder, Encoder } from 'cbor-x';
import { MAX_CBOR_DEPTH, MAX_FRAME_BYTES } from './constants.js';
import { MalformedError, TooLargeError } from './errors.js';

/** A value of the CBOR subset the protocol uses. */
export type CborValue = number | boolean | null | string | Uint8Array | CborValue[];

const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: false, structuredClone: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: false, copyBuffers: true, structuredClone: false });

/**
 * Encode a value as plain RFC 8949 CBOR. Integers must stay below 2^32 (cbor-x writes larger ones
 * as floats, which the protocol forbids; schemas enforce the bound).
 * The result may share an ArrayBuffer with earlier results: copy it before keeping it long.
 */
export function encodeCbor(value: CborValue): Uint8Array {
  return encoder.encode(value);
}

/**
 * Check that `bytes` is exactly one well-formed, canonical CBOR item of the protocol's subset:
 * unsigned and negative integers up to 2^53-1, byte and text strings, arrays, `false`, `true`,
 * `null`; definite lengths only; no maps, tags or floats; nesting at most `maxDepth` arrays.
 * @throws TooLargeError when `bytes` is longer than `maxBytes` (default {@link MAX_FRAME_BYTES}).
 * @throws MalformedError for anything else that is wrong.
 */
export function scanCbor(bytes: Uint8Array, maxBytes = MAX_FRAME_BYTES, maxDepth = MAX_CBOR_DEPTH): void {
  if (bytes.length > maxBytes) throw new TooLargeError(`CBOR item of ${bytes.length} bytes exceeds ${maxBytes}`);
  if (bytes.length === 0) throw new MalformedError('empty CBOR input');
  const end = scanItem(bytes, 0, maxDepth);
  if (end !== bytes.length) throw new MalformedError(`${bytes.length - end} trailing bytes after CBOR item`);
}

/** Decode one CBOR item after {@link scanCbor} accepted it. Byte strings are fresh copies. */
export function decodeCbor(bytes: Uint8Array, maxBytes = MAX_FRAME_BYTES, maxDepth = MAX_CBOR_DEPTH): CborValue {
  scanCbor(bytes, maxBytes, maxDepth);
  try {
    return normalize(decoder.decode(bytes) as unknown);
  } catch (err) {
    throw new MalformedError('CBOR decode failed', { cause: err });
  }
}

// cbor-x returns Buffer for byte strings; expose plain Uint8Array views so equality checks in
// tests and consumers do not depend on Buffer's prototype.
function normalize(v: unknown): CborValue {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = normalize(v[i]);
    return v as CborValue[];
  }
  if (v instanceof Uint8Array && v.constructor !== Uint8Array) return new Uint8Array(v.buffer, v.byteOffset, v.length);
  // cbor-x yields bigint for every 8-byte integer; scanCbor already bounded it to 2^53-1, so a
  // number is exact and keeps the declared CborValue type honest.
  if (typeof v === 'bigint') return Number(v);
  return v as CborValue;
}

/** Read the argument of an item head; returns [value, offset after head]. */
function readArg(b: Uint8Array, pos: number, info: number): [number, number] {
  if (info < 24) return [info, pos + 1];
  const need = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
  if (need < 0) throw new MalformedError(`unsupported additional info ${info} at offset ${pos}`);
  if (pos + 1 + need > b.length) throw new MalformedError(`truncated item head at offset ${pos}`);
  let v = 0;
  for (let i = 1; i <= need; i++) v = v * 256 + b[pos + i]!;
  if (v > Number.MAX_SAFE_INTEGER) throw new MalformedError(`integer too large at offset ${pos}`);
  const min = need === 1 ? 24 : need === 2 ? 0x100 : need === 4 ? 0x10000 : 0x100000000;
  if (v < min) throw new MalformedError(`non-canonical length or integer at offset ${pos}`);
  return [v, pos + 1 + need];
}

function scanItem(b: Uint8Array, pos: number, depthLeft: number): number {
  if (pos >= b.length) throw new MalformedError(`truncated CBOR at offset ${pos}`);
  const head = b[pos]!;
  const major = head >> 5;
  const info = head & 31;
  switch (major) {
    case 0:
    case 1:
      return readArg(b, pos, info)[1];
    case 2:
    case 3: {
      const [len, start] = readArg(b, pos, info);
      if (start + len > b.length) throw new MalformedError(`string of ${len} bytes overruns input at offset ${pos}`);
      if (major === 3 && !isUtf8(b.subarray(start, start + len))) throw new MalformedError(`invalid UTF-8 at offset ${pos}`);
      return start + len;
    }
    case 4: {
      if (depthLeft <= 0) throw new MalformedError(`nesting deeper than ${MAX_CBOR_DEPTH} at offset ${pos}`);
      const [count, start] = readArg(b, pos, info);
      // Every element takes at least one byte: a count beyond the input is a lie, refuse it
      // before anything is allocated for it.
      if (start + count > b.length) throw new MalformedError(`array of ${count} items overruns input at offset ${pos}`);
      let p = start;
      for (let i = 0; i < count; i++) p = scanItem(b, p, depthLeft - 1);
      return p;
    }
    case 7:
      if (info === 20 || info === 21 || info === 22) return pos + 1;
      throw new MalformedError(`unsupported simple value or float 0x${head.toString(16)} at offset ${pos}`);
    default:
      throw new MalformedError(`unsupported CBOR major type ${major} at offset ${pos}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
