/**
 * Hostile inputs for the decoders, shared by the protocol fuzz test and the chaos fuzz.
 *
 * Structure-aware ({@link randomCbor}, {@link mutate}, {@link deepNesting}, on a {@link Prng}):
 * CBOR items of every major type with lies and oddities, and mutations that keep most of an
 * input valid so the fuzzer reaches the schema layer. Byte-level ({@link hostile}, on a
 * {@link Random}): the chaos fuzz's mix of random, crafted and mutated bodies.
 */
import { decodeCbor, encodeCbor, type CborValue } from '../protocol/cbor.js';
import { MAX_FRAME_BYTES, MIN_FRAME_BYTES } from '../protocol/constants.js';
import { concat } from './bytes.js';
import { bytes, int, pick, type Prng, type Random } from './prng.js';

/** A CBOR head with major type `major`, argument `arg`, in a random (often non-canonical) width. */
function head(r: Prng, major: number, arg: number, canonical: boolean): Uint8Array {
  const widths = [0, 1, 2, 4, 8].filter((w) => (w === 0 ? arg < 24 : arg < 2 ** (8 * w)));
  const w = canonical ? widths[0]! : r.pick(widths);
  if (w === 0) return Uint8Array.of((major << 5) | arg);
  const out = new Uint8Array(1 + w);
  out[0] = (major << 5) | (w === 1 ? 24 : w === 2 ? 25 : w === 4 ? 26 : 27);
  let v = arg;
  for (let i = w; i >= 1; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Random CBOR-ish bytes: mostly well-formed items of every major type, with lies and oddities. */
export function randomCbor(r: Prng, depth: number): Uint8Array {
  const canonical = r.chance(0.8);
  switch (r.int(depth > 0 ? 10 : 7)) {
    case 0:
    case 1:
      return head(r, r.int(2), r.chance(0.5) ? r.int(30) : r.u32(), canonical);
    case 2: {
      const n = r.int(40);
      return concat(head(r, 2, n, canonical), r.bytes(n));
    }
    case 3: {
      const s = new TextEncoder().encode(r.pick(['', 'x', 'Hello', 'é€😀', 'a'.repeat(r.int(300))]));
      return concat(head(r, 3, s.length, canonical), s);
    }
    case 4:
      return Uint8Array.of(r.pick([0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xff, 0xe0, 0xf0]), ...r.bytes(r.int(9)));
    case 5: // a lying length: declares far more than follows
      return concat(Uint8Array.of(r.pick([0x9b, 0x5b, 0x7b, 0x1b, 0x3b, 0xbb, 0xdb, 0x9a, 0x5a, 0x9f, 0x5f, 0x7f, 0xbf])), r.bytes(8), r.bytes(r.int(4)));
    case 6:
      return r.bytes(r.int(12));
    case 7:
    case 8: {
      const n = r.int(6);
      const items = Array.from({ length: n }, () => randomCbor(r, depth - 1));
      return concat(head(r, 4, r.chance(0.9) ? n : r.int(12), canonical), ...items);
    }
    default: // map or tag around an item
      return r.chance(0.5)
        ? concat(head(r, 5, 1, true), randomCbor(r, depth - 1), randomCbor(r, depth - 1))
        : concat(head(r, 6, r.pick([0, 2, 24, 64, 258, 55799]), true), randomCbor(r, depth - 1));
  }
}

/** A random decoded CBOR value (for wrong-type substitutions; may encode as a float). */
function randomValue(r: Prng, depth = 2): CborValue {
  switch (r.int(depth > 0 ? 9 : 8)) {
    case 0:
      return r.int(30);
    case 1:
      return r.pick([2 ** 32, 2 ** 32 - 1, -1, 2 ** 53 - 1, 1.5, -(2 ** 31), MIN_FRAME_BYTES - 1, MAX_FRAME_BYTES + 1]);
    case 2:
      return r.bytes(r.pick([0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, r.int(1100)]));
    case 3:
      return r.pick(['', 'x', 'x'.repeat(257), 'Push']);
    case 4:
      return r.chance(0.5);
    case 5:
      return null;
    case 6:
      return r.int(12);
    case 7:
      return Array.from({ length: r.int(12) }, () => r.bytes(32));
    default:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth - 1));
  }
}

/** Replace one element somewhere in a decoded value tree with a random value. */
function substitute(r: Prng, v: CborValue): CborValue {
  if (!Array.isArray(v) || v.length === 0 || r.chance(0.15)) return randomValue(r);
  const copy = [...v];
  const i = r.int(copy.length + (r.chance(0.1) ? 1 : 0));
  if (i === copy.length) copy.push(randomValue(r));
  else if (r.chance(0.1)) copy.splice(i, 1);
  else copy[i] = substitute(r, copy[i]!);
  return copy;
}

/**
 * `src` changed one way: bit flips, a byte set to a CBOR-significant value, truncation, bytes
 * appended, inserted or cut, a splice with another `corpus` entry, a huge declared length
 * spliced in, or (when it decodes) a wrong-typed or out-of-range value swapped into its tree.
 */
export function mutate(r: Prng, src: Uint8Array, corpus: readonly Uint8Array[]): Uint8Array {
  const b = Uint8Array.from(src);
  switch (r.int(9)) {
    case 0: {
      const flips = 1 + r.int(8);
      for (let i = 0; i < flips && b.length > 0; i++) b[r.int(b.length)]! ^= 1 << r.int(8);
      return b;
    }
    case 1:
      if (b.length > 0) b[r.int(b.length)] = r.pick([0x00, 0xff, 0x9b, 0x5b, 0x18, 0x1b, 0xf9, 0x9f, 0xa1, 0xc0, r.u32() & 0xff]);
      return b;
    case 2:
      return b.subarray(0, r.int(b.length + 1));
    case 3:
      return concat(b, r.bytes(1 + r.int(16)));
    case 4: {
      const at = r.int(b.length + 1);
      return concat(b.subarray(0, at), r.bytes(1 + r.int(8)), b.subarray(at));
    }
    case 5: {
      const at = r.int(b.length + 1);
      return concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r.int(8))));
    }
    case 6: {
      const other = r.pick(corpus);
      return concat(b.subarray(0, r.int(b.length + 1)), other.subarray(r.int(other.length + 1)));
    }
    case 7: {
      // Splice a huge declared length somewhere.
      const at = r.int(b.length + 1);
      return concat(b.subarray(0, at), Uint8Array.of(r.pick([0x9b, 0x5b, 0x7b, 0x9a, 0x5a])), Uint8Array.of(0xff, 0xff, 0xff, 0xff), r.bytes(4), b.subarray(at));
    }
    default:
      // Wrong types / out-of-range values in an otherwise well-formed structure.
      try {
        return Uint8Array.from(encodeCbor(substitute(r, decodeCbor(b))));
      } catch {
        return b;
      }
  }
}

/** An array nested 3 to 100,000 deep (a decoder must refuse it without recursing that far). */
export function deepNesting(r: Prng): Uint8Array {
  const depth = r.pick([3, 4, 5, 6, 50, 1000, 100_000]);
  return concat(new Uint8Array(depth).fill(r.pick([0x81, 0x82, 0x9f])), Uint8Array.of(0x80));
}

/** CBOR heads that lie about sizes or types. */
export const NASTY_HEADS = [
  Uint8Array.of(0x9a, 0xff, 0xff, 0xff, 0xff), // array of 2^32-1
  Uint8Array.of(0x9b, 0, 0, 0, 1, 0, 0, 0, 0), // array of 2^32 (64-bit length)
  Uint8Array.of(0x5a, 0x7f, 0xff, 0xff, 0xff), // byte string of 2 GiB
  Uint8Array.of(0x7a, 0x00, 0x10, 0x00, 0x00), // text of 1 MiB
  Uint8Array.of(0x9f), // indefinite array
  Uint8Array.of(0xbf), // indefinite map
  Uint8Array.of(0xa1), // map
  Uint8Array.of(0xc0), // tag
  Uint8Array.of(0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0), // NaN float
  Uint8Array.of(0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // u64 max
  Uint8Array.of(0x18, 0x01), // non-canonical int
  Uint8Array.of(0xff), // break
  Uint8Array.of(0xf7), // undefined
];

/**
 * One hostile body for the chaos fuzz, drawn from `rnd` one number at a time in a fixed order (its
 * figures depend on that order): random bytes, deep nesting, a lying head, wrong-typed fields,
 * huge arrays, or 1–3 byte-level mutations of one of `seeds`.
 */
export function hostile(rnd: Random, seeds: readonly Uint8Array[]): Uint8Array {
  const r = rnd();
  if (r < 0.1) return bytes(rnd, int(rnd, 300));
  if (r < 0.15) {
    // deep nesting
    const depth = 1 + int(rnd, 2000);
    return concat(new Uint8Array(depth).fill(0x81), Uint8Array.of(0x00));
  }
  if (r < 0.22) return concat(Uint8Array.of(0x80 + 1 + int(rnd, 6), int(rnd, 12)), pick(rnd, NASTY_HEADS), bytes(rnd, int(rnd, 40)));
  if (r < 0.3) {
    // wrong types per field
    const vals: CborValue[] = [int(rnd, 12)];
    const k = int(rnd, 8);
    for (let i = 0; i < k; i++) vals.push(pick(rnd, [true, null, 'x'.repeat(int(rnd, 300)), -1, 0xffffffff, bytes(rnd, int(rnd, 70)), [], [bytes(rnd, 32)], [[1, 2], 3]] as CborValue[]));
    return encodeCbor(vals).slice();
  }
  if (r < 0.33) {
    // huge arrays of valid-looking items
    const n = 100 + int(rnd, 3000);
    const items = Array.from({ length: n }, () => new Uint8Array(32));
    return encodeCbor([pick(rnd, [3, 4, 5, 8, 2]), 1, 65536, items, items] as CborValue[]).slice();
  }
  const base = pick(rnd, seeds).slice();
  let b: Uint8Array<ArrayBufferLike> = base;
  const ops = 1 + int(rnd, 3);
  for (let o = 0; o < ops; o++) {
    const m = int(rnd, 6);
    if (m === 0 || b.length === 0) {
      const flips = 1 + int(rnd, 8);
      for (let i = 0; i < flips && b.length > 0; i++) b[int(rnd, b.length)]! ^= 1 << int(rnd, 8);
    } else if (m === 1) b = b.subarray(0, int(rnd, b.length));
    else if (m === 2) b = concat(b, bytes(rnd, 1 + int(rnd, 20)));
    else if (m === 3) {
      const at = int(rnd, b.length);
      b = concat(b.subarray(0, at), pick(rnd, NASTY_HEADS), b.subarray(at));
    } else if (m === 4) b[int(rnd, b.length)] = pick(rnd, [0x00, 0xff, 0x1b, 0x5b, 0x9b, 0x9f, 0x40, 0x60]);
    else b = concat(b.subarray(0, int(rnd, b.length)), b.subarray(int(rnd, b.length)));
  }
  return b;
}
