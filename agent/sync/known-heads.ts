/**
 * What each subscriber is known to hold, per subscription slot: up to `width` heads (store
 * handles, each implying its ancestors) and a floor — every handle below it is held too. The
 * floor is what a completed push sent: a graph with more heads than fit in `width` would otherwise
 * forget the rest and push them again (found by the push unit tests with 12 concurrent writers).
 * Handles are append positions and a command is appended after its parents, so everything below
 * the floor is closed under ancestry.
 */
import { SlotLists } from './slot-lists.js';

/** Known heads and floors by slot; arrays allocated once. */
export class KnownHeads {
  private readonly heads: SlotLists<number>;
  private readonly floors: Int32Array;

  constructor(capacity: number, width: number) {
    this.heads = new SlotLists(new Int32Array(capacity * width), capacity, width);
    this.floors = new Int32Array(capacity);
  }

  /** Replace `slot`'s knowledge: `handles` (the first `width` kept) and every handle below `floor`. */
  set(slot: number, handles: ArrayLike<number>, floor: number): void {
    this.heads.set(slot, handles);
    this.floors[slot] = floor;
  }

  /** Forget everything about `slot` (a new subscriber). */
  clear(slot: number): void {
    this.heads.clear(slot);
    this.floors[slot] = 0;
  }

  /** Known heads of `slot`, a fresh array. */
  headsOf(slot: number): number[] {
    return this.heads.get(slot);
  }

  /** Every handle below this is known to `slot`'s subscriber. */
  floorOf(slot: number): number {
    return this.floors[slot]!;
  }
}
