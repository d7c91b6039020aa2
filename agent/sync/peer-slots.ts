/**
 * Open addressing of peer ids onto a fixed number of slots: linear probing keyed by FNV-1a of
 * the id, tombstones for removed entries, every array allocated once, no allocation per
 * operation. The subscription table keeps its per-slot data in arrays indexed by these slots.
 */
import { fnv1aString } from '../../protocol/fnv.js';

const EMPTY = 0;
const USED = 1;
const TOMBSTONE = 2;

/** `capacity` slots (a power of two) addressed by peer id; -1 means "none". */
export class PeerSlots {
  private readonly mask: number;
  private readonly state: Uint8Array;
  private readonly peer: string[];
  private used = 0;

  /** @param capacity a power of two (the caller checks). */
  constructor(readonly capacity: number) {
    this.mask = capacity - 1;
    this.state = new Uint8Array(capacity);
    this.peer = new Array<string>(capacity).fill('');
  }

  /** Slots in use. */
  get size(): number {
    return this.used;
  }

  /** Slot of `peerId`, or -1. */
  find(peerId: string): number {
    let i = fnv1aString(peerId) & this.mask;
    for (let n = 0; n < this.capacity; n++, i = (i + 1) & this.mask) {
      const s = this.state[i];
      if (s === EMPTY) return -1;
      if (s === USED && this.peer[i] === peerId) return i;
    }
    return -1;
  }

  /** Take a free slot for `peerId` (not present; the caller checks there is room). */
  claim(peerId: string): number {
    let i = fnv1aString(peerId) & this.mask;
    while (this.state[i] === USED) i = (i + 1) & this.mask;
    this.state[i] = USED;
    this.peer[i] = peerId;
    this.used++;
    return i;
  }

  /** Free a used slot. */
  release(slot: number): void {
    // A tombstone keeps probe chains intact; if the next slot is empty the chain ends here anyway.
    this.state[slot] = this.state[(slot + 1) & this.mask] === EMPTY ? EMPTY : TOMBSTONE;
    this.peer[slot] = '';
    this.used--;
  }

  /** Whether `slot` is in use. */
  isUsed(slot: number): boolean {
    return this.state[slot] === USED;
  }

  /** Peer id in `slot` ('' when free). */
  peerAt(slot: number): string {
    return this.state[slot] === USED ? this.peer[slot]! : '';
  }
}
