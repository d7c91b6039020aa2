/**
 * The handle ↔ slot mapping of a scope index (docs/design/v2-scopes.md §5.3), with the horizon
 * and gap state it builds on ({@link ScopeHorizonState}). Slots are dense in load order; handles
 * are not, and are never renumbered: the handles below `dense0` that were retained when the slots
 * were last laid out (`low`, ascending) take the first slots, and every handle from `dense0` on
 * has slot `low.length + (h − dense0)`. {@link ScopeIndex} (scope-index.ts) extends this with
 * retention and the repack that moves `dense0`.
 */
import { CompactIndex, type SlotIndex } from './compact-index.js';
import { ScopeHorizonState } from './scope-horizon-state.js';

/**
 * The empty handle list every index starts with (shared, frozen: an idle scope allocates no
 * array for lists it never fills; the first entry replaces it with an array of its own).
 */
export const NONE: readonly number[] = Object.freeze([]);

/** Handle ↔ slot mapping of one scope over its {@link SlotIndex}. */
export class ScopeSlotMap extends ScopeHorizonState {
  /** The per-slot fields (replaced by a `CommandSlotIndex` when the scope grows). */
  ix: SlotIndex = new CompactIndex();
  /** Handles below `dense0` that have a slot, ascending (slot i holds low[i]). */
  protected low: readonly number[] = NONE;
  /** First handle of the dense part: the base at open or at the last repack. */
  protected dense0: number;
  /** Next handle. */
  size: number;
  /** First retained handle except pinned ones (§5.3). */
  base: number;

  /** @param base0 the base read from `horizon.bin` (0 for a new scope): the first handle, the first dense one */
  constructor(base0: number) {
    super();
    this.size = base0;
    this.base = base0;
    this.dense0 = base0;
  }

  /** Slot of handle `h`, or -1 when it was never loaded. */
  slotOf(h: number): number {
    if (h >= this.dense0) return h < this.size ? this.low.length + (h - this.dense0) : -1;
    let lo = 0;
    let hi = this.low.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.low[mid]!;
      if (v === h) return mid;
      if (v < h) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Handle of slot `slot` (any slot below the slot index's size). */
  protected handleOf(slot: number): number {
    return slot < this.low.length ? this.low[slot]! : this.dense0 + (slot - this.low.length);
  }
}

/** `list` with `h` appended: `list` itself unless it is the shared {@link NONE}. */
export function appended(list: readonly number[], h: number): readonly number[] {
  if (list === NONE) return [h];
  (list as number[]).push(h);
  return list;
}
