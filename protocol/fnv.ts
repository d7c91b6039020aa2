/** 32-bit FNV-1a, the hash the subscription table is keyed by. */

const OFFSET = 0x811c9dc5;
const PRIME = 0x01000193;

/** FNV-1a over a string's UTF-16 code units masked to bytes (peer ids are ASCII hex). */
export function fnv1aString(s: string): number {
  let h = OFFSET;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i) & 0xff;
    h = Math.imul(h, PRIME);
  }
  return h >>> 0;
}

/** FNV-1a over bytes. */
export function fnv1aBytes(b: Uint8Array): number {
  let h = OFFSET;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i]!;
    h = Math.imul(h, PRIME);
  }
  return h >>> 0;
}
