/**
 * The simulated device's author keys: a fixed table of (fingerprint, public key) pairs. Trusted
 * keys from the configuration are pinned; keys learnt at run time (the authenticated peer's,
 * and in trust-any mode those of `Keys` messages) take the remaining slots, the oldest learnt
 * one giving way when the table is full. No growth, no per-lookup allocation.
 */
import { AUTHOR_BYTES, PUBLIC_KEY_BYTES, fingerprint } from '../../protocol/index.js';

/** Default number of slots in a device's key table. */
export const DEFAULT_KEY_SLOTS = 32;

/** Author fingerprint → public key, with a pinned trusted part. */
export class DeviceKeyTable {
  /** Slots; never changes. */
  readonly capacity: number;
  private readonly authors: Uint8Array;
  private readonly keys: Uint8Array;
  private readonly pinned: Uint8Array;
  private used = 0;
  private nextVictim = 0;

  /**
   * @param trusted raw 32-byte public keys admitted as peers and authors (pinned).
   * @param capacity total slots (default {@link DEFAULT_KEY_SLOTS}, at least `trusted.length + 1`).
   * @throws RangeError on a key that is not 32 bytes.
   */
  constructor(trusted: readonly Uint8Array[], capacity = DEFAULT_KEY_SLOTS) {
    this.capacity = Math.max(capacity, trusted.length + 1);
    this.authors = new Uint8Array(this.capacity * AUTHOR_BYTES);
    this.keys = new Uint8Array(this.capacity * PUBLIC_KEY_BYTES);
    this.pinned = new Uint8Array(this.capacity);
    for (const k of trusted) {
      if (k.length !== PUBLIC_KEY_BYTES) throw new RangeError('trusted key must be 32 bytes');
      if (this.slotOfKey(k) < 0) this.put(this.used++, k, true);
    }
  }

  /** Whether `publicKey` is one of the pinned (configured) keys. */
  isTrusted(publicKey: Uint8Array): boolean {
    const s = this.slotOfKey(publicKey);
    return s >= 0 && this.pinned[s] === 1;
  }

  /** Record a key learnt at run time; a no-op when already known. */
  learn(publicKey: Uint8Array): void {
    if (publicKey.length !== PUBLIC_KEY_BYTES || this.slotOfKey(publicKey) >= 0) return;
    if (this.used < this.capacity) {
      this.put(this.used++, publicKey, false);
      return;
    }
    // Full: overwrite learnt slots round-robin; pinned ones never move.
    for (let tries = 0; tries < this.capacity; tries++) {
      const s = this.nextVictim;
      this.nextVictim = (this.nextVictim + 1) % this.capacity;
      if (this.pinned[s] === 0) {
        this.put(s, publicKey, false);
        return;
      }
    }
  }

  /** The public key of an 8-byte author fingerprint (a view into the table), or null. */
  keyOf(author: Uint8Array): Uint8Array | null {
    if (author.length !== AUTHOR_BYTES) return null;
    for (let s = 0; s < this.used; s++) {
      if (equalAt(this.authors, s * AUTHOR_BYTES, author)) return this.keys.subarray(s * PUBLIC_KEY_BYTES, (s + 1) * PUBLIC_KEY_BYTES);
    }
    return null;
  }

  private slotOfKey(publicKey: Uint8Array): number {
    if (publicKey.length !== PUBLIC_KEY_BYTES) return -1;
    for (let s = 0; s < this.used; s++) if (equalAt(this.keys, s * PUBLIC_KEY_BYTES, publicKey)) return s;
    return -1;
  }

  private put(slot: number, publicKey: Uint8Array, pinned: boolean): void {
    this.keys.set(publicKey, slot * PUBLIC_KEY_BYTES);
    this.authors.set(fingerprint(publicKey), slot * AUTHOR_BYTES);
    this.pinned[slot] = pinned ? 1 : 0;
  }
}

function equalAt(table: Uint8Array, base: number, value: Uint8Array): boolean {
  for (let k = 0; k < value.length; k++) if (table[base + k] !== value[k]) return false;
  return true;
}
