/**
 * The per-slot payload of the v2 subscription table (protocol-v2.md §11.1): remaining budget,
 * known heads with their floor, `via` peers and the dirty bit, kept in arrays of one entry per
 * slot, all allocated at construction. The keyed table ({@link SubscriptionTableV2}) extends this
 * and owns which slots are used.
 */
import { MAX_VIA } from '../../protocol/constants.js';
import { KnownHeads } from './known-heads.js';
import { SlotLists } from './slot-lists.js';

/** Most known heads remembered per (peer, scope) slot (§11.1). */
export const MAX_KNOWN_V2 = 10;

/** Budget, known heads, via and dirty bit of each slot of a table of `capacity` slots. */
export class SubscriptionSlotsV2 {
  protected readonly budget: Float64Array;
  protected readonly known: KnownHeads;
  protected readonly via: SlotLists<string>;
  protected readonly dirty: Uint8Array;

  /** @param capacity slots (validated by the table) */
  constructor(capacity: number) {
    this.budget = new Float64Array(capacity);
    this.known = new KnownHeads(capacity, MAX_KNOWN_V2);
    this.via = new SlotLists(new Array<string>(capacity * MAX_VIA).fill(''), capacity, MAX_VIA);
    this.dirty = new Uint8Array(capacity);
  }

  /** Whether `slot` has something new to push. */
  isDirty(slot: number): boolean {
    return this.dirty[slot] === 1;
  }

  /** Mark `slot` as having something new to push. */
  markDirty(slot: number): void {
    this.dirty[slot] = 1;
  }

  /** Clear the dirty bit of `slot`; returns whether it was set. */
  takeDirty(slot: number): boolean {
    const was = this.dirty[slot] === 1;
    this.dirty[slot] = 0;
    return was;
  }

  /** Bytes the subscriber in `slot` still grants. */
  remainingOf(slot: number): number {
    return this.budget[slot]!;
  }

  /** Charge `bytes` of pushes to `slot`'s budget. */
  charge(slot: number, bytes: number): void {
    this.budget[slot] = this.budget[slot]! - bytes;
  }

  /** Replace what `slot` is known to hold: `handles` (the first {@link MAX_KNOWN_V2}) and every handle below `floor`. */
  setKnown(slot: number, handles: ArrayLike<number>, floor: number): void {
    this.known.set(slot, handles, floor);
  }

  /** Known heads of `slot`, a fresh array. */
  knownOf(slot: number): number[] {
    return this.known.headsOf(slot);
  }

  /** Every handle below this is known to the subscriber in `slot`. */
  knownFloor(slot: number): number {
    return this.known.floorOf(slot);
  }

  /** Replace the via list of `slot` (peer ids, 16 hex). */
  setVia(slot: number, peers: readonly string[]): void {
    this.via.set(slot, peers);
  }

  /** Whether the subscriber in `slot` also receives pushes of its scope from `peerId`. */
  hasVia(slot: number, peerId: string): boolean {
    return this.via.has(slot, peerId);
  }
}
