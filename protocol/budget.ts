/**
 * Exact byte budgets (PROTOCOL.md §8.1, §9.4). A `PollResponse` or `Push` is a CBOR envelope
 * whose last field is the list of command byte strings, so its encoded size is known before
 * anything is encoded: the envelope with an empty list, less that list's 1-byte head, plus the
 * list's head for its length, plus each command's byte-string head and body. Commands are taken
 * greedily in the order given and the cut always falls on a command boundary; a budget is never
 * exceeded by a single byte. This is wire arithmetic shared by the agent and the device: which
 * commands to offer, and in what order, stays each one's own logic.
 */
import { cborHeadLength } from './cbor.js';

/** Bytes a byte string of `len` bytes takes in a CBOR list: its head plus its body. */
export function byteStringSize(len: number): number {
  return cborHeadLength(len) + len;
}

/**
 * A command list filled up to a byte budget. `envelope` is the size of the message encoded with
 * an empty command list, minus that empty list's 1-byte head (re-added, at its true size, as the
 * list grows); `limit` is the budget of the whole encoded message.
 */
export class ListFit {
  /** Commands taken so far. */
  count = 0;
  /** Bytes of their byte strings (heads included). */
  payload = 0;

  constructor(
    private readonly envelope: number,
    private readonly limit: number,
  ) {}

  /** Encoded size of the message with the commands taken so far. */
  get size(): number {
    return this.envelope + cborHeadLength(this.count) + this.payload;
  }

  /** Whether one more command of `len` bytes still fits the budget (nothing is taken). */
  fits(len: number): boolean {
    return this.envelope + cborHeadLength(this.count + 1) + this.payload + byteStringSize(len) <= this.limit;
  }

  /** Take one more command of `len` bytes if it fits; returns whether it did. */
  take(len: number): boolean {
    if (!this.fits(len)) return false;
    this.count++;
    this.payload += byteStringSize(len);
    return true;
  }
}

/**
 * How many of the commands `from..to-1` (lengths given by `lengths(i)`) fit after an envelope of
 * `envelope` bytes (as for {@link ListFit}) within `limit`: returns the end index (exclusive),
 * `from` when not even the first fits.
 */
export function fitWithin(envelope: number, limit: number, lengths: (i: number) => number, from: number, to: number): number {
  const fit = new ListFit(envelope, limit);
  let i = from;
  while (i < to && fit.take(lengths(i))) i++;
  return i;
}
