/**
 * Fixed-capacity subscription table: peer ids addressed onto slots by {@link PeerSlots}, every
 * array allocated once in the constructor, no allocation per operation.
 *
 * A slot holds: the peer id, close time, remaining byte budget, what the subscriber is known to
 * hold (up to {@link MAX_KNOWN} heads, plus a floor: every command appended below it), up to
 * {@link MAX_VIA} "via" peers, a dirty flag (pending push work is coalesced into this one bit)
 * and, while its link is closed, when it closed. Slots are read and changed through methods only;
 * the pusher (`pusher.ts`) owns the table.
 */
import { MAX_VIA } from '../../protocol/constants.js';
import { KnownHeads } from './known-heads.js';
import { PeerSlots } from './peer-slots.js';
import { SlotLifetimes } from './slot-lifetimes.js';
import { SlotLists } from './slot-lists.js';
import { SubscriptionCapacityError } from './subscription-capacity-error.js';

export { SUSPEND_MS } from './slot-lifetimes.js';
export { SubscriptionCapacityError };

/** Most known heads remembered per subscriber (the floor covers what they cannot name). */
export const MAX_KNOWN = 10;

/** The subscription table. Slots are addressed by index; -1 means "none". */
export class SubscriptionTable {
  readonly capacity: number;
  private readonly slots: PeerSlots;
  private readonly life: SlotLifetimes;
  /** Bytes the subscriber still grants. */
  private readonly budget: Float64Array;
  private readonly known: KnownHeads;
  /** Peer ids (hex) the subscriber also receives pushes from. */
  private readonly via: SlotLists<string>;
  private readonly dirty: Uint8Array;

  /** @param capacity a power of two, default 128 in config. @throws SubscriptionCapacityError */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 65536 || (capacity & (capacity - 1)) !== 0) {
      throw new SubscriptionCapacityError(capacity);
    }
    this.capacity = capacity;
    this.slots = new PeerSlots(capacity);
    this.life = new SlotLifetimes(capacity);
    this.budget = new Float64Array(capacity);
    this.known = new KnownHeads(capacity, MAX_KNOWN);
    this.via = new SlotLists(new Array<string>(capacity * MAX_VIA).fill(''), capacity, MAX_VIA);
    this.dirty = new Uint8Array(capacity);
  }

  /** Live entries (expired ones count until reaped). */
  get size(): number {
    return this.slots.size;
  }

  /** Slot of `peerId`, or -1. */
  find(peerId: string): number {
    return this.slots.find(peerId);
  }

  /**
   * Insert or update `peerId`. Returns the slot, or -1 when the table is full (call
   * {@link reap} first to free expired slots). An update keeps known heads, via and dirty bit.
   */
  upsert(peerId: string, closeAt: number, remaining: number): number {
    let slot = this.find(peerId);
    if (slot < 0) {
      if (this.slots.size >= this.capacity && !this.evictSuspended()) return -1;
      slot = this.slots.claim(peerId);
      this.known.clear(slot);
      this.via.clear(slot);
      this.dirty[slot] = 0;
    }
    this.life.grant(slot, closeAt);
    this.budget[slot] = remaining;
    return slot;
  }

  /**
   * The link of `peerId`'s subscription closed at `now`: suspend it (PROTOCOL.md §9.3). It stays
   * for that peer's next link for at most {@link SUSPEND_MS}, and is the first freed when another
   * peer needs a slot. Absent is a no-op.
   */
  suspend(peerId: string, now: number): void {
    const slot = this.find(peerId);
    if (slot >= 0) this.life.suspend(slot, now);
  }

  /** `peerId` has a link again: its suspended subscription, if any, resumes as it was. */
  resume(peerId: string): void {
    const slot = this.find(peerId);
    if (slot >= 0) this.life.resume(slot);
  }

  /** Remove `peerId`; absent is a no-op. Returns whether it was present. */
  remove(peerId: string): boolean {
    const slot = this.find(peerId);
    if (slot < 0) return false;
    this.removeSlot(slot);
    return true;
  }

  /** Remove every entry whose close time is ≤ `now`, or suspended for {@link SUSPEND_MS}; returns how many. */
  reap(now: number): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (this.slots.isUsed(i) && this.life.over(i, now)) {
        this.removeSlot(i);
        n++;
      }
    }
    return n;
  }

  /** Earliest close time among live entries, or Infinity when empty. */
  earliestClose(): number {
    let t = Infinity;
    for (let i = 0; i < this.capacity; i++) if (this.slots.isUsed(i)) t = Math.min(t, this.life.closeAtOf(i));
    return t;
  }

  /** Peer id in `slot` ('' when free). */
  peerAt(slot: number): string {
    return this.slots.peerAt(slot);
  }

  /** Close time of `slot`. */
  closeAtOf(slot: number): number {
    return this.life.closeAtOf(slot);
  }

  /** Call `fn` for every used slot. */
  forEach(fn: (slot: number, peerId: string) => void): void {
    for (let i = 0; i < this.capacity; i++) if (this.slots.isUsed(i)) fn(i, this.slots.peerAt(i));
  }

  /** Whether `slot` has push work pending. */
  isDirty(slot: number): boolean {
    return this.dirty[slot] === 1;
  }

  /** Mark `slot` as having push work pending. */
  markDirty(slot: number): void {
    this.dirty[slot] = 1;
  }

  /** Mark every used slot dirty (new commands were added). */
  markAllDirty(): void {
    for (let i = 0; i < this.capacity; i++) if (this.slots.isUsed(i)) this.dirty[i] = 1;
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

  /**
   * Replace what `slot` is known to hold: `handles` (at most MAX_KNOWN, the first ones given) and
   * every handle below `floor` (default 0: nothing beyond the heads' ancestors).
   */
  setKnown(slot: number, handles: ArrayLike<number>, floor = 0): void {
    this.known.set(slot, handles, floor);
  }

  /** Known heads of `slot` as a fresh array (for the graph walk). */
  knownOf(slot: number): number[] {
    return this.known.headsOf(slot);
  }

  /** Every handle below this is known to the subscriber in `slot`. */
  knownFloor(slot: number): number {
    return this.known.floorOf(slot);
  }

  /** Replace the via list of `slot`. */
  setVia(slot: number, peers: readonly string[]): void {
    this.via.set(slot, peers);
  }

  /** Whether the subscriber in `slot` also receives pushes from `peerId`. */
  hasVia(slot: number, peerId: string): boolean {
    return this.via.has(slot, peerId);
  }

  /** Free the suspended slot whose link closed first; false when none is suspended. */
  private evictSuspended(): boolean {
    const best = this.life.firstSuspended(this.capacity, (i) => this.slots.isUsed(i));
    if (best < 0) return false;
    this.removeSlot(best);
    return true;
  }

  private removeSlot(slot: number): void {
    this.slots.release(slot);
    this.dirty[slot] = 0;
    this.life.resume(slot);
  }
}
