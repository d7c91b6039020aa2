/**
 * Exact byte budgets. A response or push is a CBOR envelope whose last field is the list of
 * command byte strings; its encoded size is known before anything is encoded, so commands are
 * taken greedily, in causal order, and the cut always falls on a command boundary.
 */

/** Bytes a CBOR head takes for a length or unsigned integer `n`. */
export function cborHeadLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

/**
 * How many of `lengths[from..]` fit: returns the end index (exclusive) such that an envelope of
 * `envelope` bytes (its encoding with an empty command list, minus that empty list's 1-byte head)
 * plus the list head plus each command's byte-string head and body stays ≤ `limit`.
 */
export function fitWithin(envelope: number, limit: number, lengths: (i: number) => number, from: number, to: number): number {
  let payload = 0;
  let i = from;
  for (; i < to; i++) {
    const len = lengths(i);
    const add = cborHeadLength(len) + len;
    if (envelope + cborHeadLength(i - from + 1) + payload + add > limit) break;
    payload += add;
  }
  return i;
}
