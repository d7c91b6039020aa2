/**
 * Distinct author fingerprints, numbered in order of first appearance, so the index stores a
 * small number per command instead of 8 bytes (a device log has a handful of authors).
 */
import { AUTHOR_BYTES } from '../../protocol/constants.js';

/** Fingerprint ↔ small integer. Grows by doubling; never shrinks. */
export class AuthorTable {
  private bytes = new Uint8Array(16 * AUTHOR_BYTES);
  private readonly keys = new Map<string, number>();
  /** The number the previous lookup returned: authors write in runs, so it is the usual answer. */
  private last = -1;

  /** Number of distinct authors. */
  get count(): number {
    return this.keys.size;
  }

  /** The number of `author`, assigning the next one if it is new. */
  intern(author: Uint8Array): number {
    if (this.last >= 0 && this.matches(this.last, author)) return this.last;
    // A latin1 string of the 8 bytes is the cheapest exact Map key.
    const key = String.fromCharCode(...author);
    let ix = this.keys.get(key);
    if (ix === undefined) {
      ix = this.keys.size;
      if ((ix + 1) * AUTHOR_BYTES > this.bytes.length) {
        const next = new Uint8Array(this.bytes.length * 2);
        next.set(this.bytes);
        this.bytes = next;
      }
      this.bytes.set(author, ix * AUTHOR_BYTES);
      this.keys.set(key, ix);
    }
    this.last = ix;
    return ix;
  }

  /** A copy of fingerprint number `ix`. */
  get(ix: number): Uint8Array {
    return this.bytes.slice(ix * AUTHOR_BYTES, (ix + 1) * AUTHOR_BYTES);
  }

  /** Bytes of the fingerprint buffer (the Map of keys is not counted: one entry per author). */
  byteSize(): number {
    return this.bytes.byteLength;
  }

  private matches(ix: number, author: Uint8Array): boolean {
    for (let i = 0; i < AUTHOR_BYTES; i++) if (this.bytes[ix * AUTHOR_BYTES + i] !== author[i]) return false;
    return true;
  }
}
