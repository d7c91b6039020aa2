/**
 * Fixed-capacity subscription table: open addressing (linear probing) keyed by FNV-1a of the
 * peer id, every array allocated once in the constructor, no allocation per operation.
 *
 * A slot holds: the peer id, close time, remaining byte budget, up to {@link MAX_KNOWN} known
 * heads (store handles), up to {@link MAX_VIA} "via" peers, a dirty flag (pending push work is
 * coalesced into this one bit) and the link key used to reach the peer.
 */
import { fnv1aString } from '../../protocol/fnv.js';
import { MAX_VIA } from '../../protocol/constants.js';

/** Most known heads remembered per subscriber. */
export const MAX_KNOWN = 10;

/** Thrown at start-up for a capacity that is not a power of two (or out of range). */
export class SubscriptionCapacityError extends Error {
  readonly reason = 'BadCapacity';
  constructor(capacity: number) {
    super(`subscription capacity must be a power of two between 1 and 65536, got ${capacity}`);
    this.name = 'SubscriptionCapacityError';
  }
}

const EMPTY = 0;
const USED = 1;
/**
 * How long a subscription whose link closed is kept for the same peer's next link (PROTOCOL.md
 * §9.3). A slow line that flaps every few seconds keeps its pushes; a table of closed links
 * never keeps a new peer out (suspended slots are freed first).
 */
export const SUSPEND_MS = 60_000;
const TOMBSTONE = 2;

/** The subscription table. Slots are addressed by index; -1 means "none". */
export class SubscriptionTable {
  readonly capacity: number;
  private readonly mask: number;
  private readonly state: Uint8Array;
  private readonly peer: string[];
  /** Absolute close time (ms since epoch of the injected clock). */
  readonly closeAt: Float64Array;
  /** Bytes the subscriber still grants. */
  readonly remaining: Float64Array;
  /** Known heads as store handles, MAX_KNOWN per slot. */
  readonly known: Int32Array;
  /** Number of valid entries in `known` per slot. */
  readonly knownCount: Uint8Array;
  /** Peer ids (hex) the subscriber also receives pushes from, MAX_VIA per slot. */
  private readonly via: string[];
  private readonly viaCount: Uint8Array;
  /** Push work pending for the slot. */
  readonly dirty: Uint8Array;
  /**
   * When the slot's link closed (0 while it has one): a suspended subscription, kept for the
   * same peer's next link for at most {@link SUSPEND_MS} and the first freed for another peer.
   */
  private readonly linklessSince: Float64Array;
  private used = 0;

  /** @param capacity a power of two, default 128 in config. @throws SubscriptionCapacityError */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 65536 || (capacity & (capacity - 1)) !== 0) {
      throw new SubscriptionCapacityError(capacity);
    }
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.state = new Uint8Array(capacity);
    this.peer = new Array<string>(capacity).fill('');
    this.closeAt = new Float64Array(capacity);
    this.remaining = new Float64Array(capacity);
    this.known = new Int32Array(capacity * MAX_KNOWN);
    this.knownCount = new Uint8Array(capacity);
    this.via = new Array<string>(capacity * MAX_VIA).fill('');
    this.viaCount = new Uint8Array(capacity);
    this.dirty = new Uint8Array(capacity);
    this.linklessSince = new Float64Array(capacity);
  }

  /** Live entries (expired ones count until reaped). */
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

  /**
   * Insert or update `peerId`. Returns the slot, or -1 when the table is full (call
   * {@link reap} first to free expired slots).
   */
  upsert(peerId: string, closeAt: number, remaining: number): number {
    let slot = this.find(peerId);
    if (slot < 0) {
      if (this.used >= this.capacity && !this.evictSuspended()) return -1;
      let i = fnv1aString(peerId) & this.mask;
      while (this.state[i] === USED) i = (i + 1) & this.mask;
      slot = i;
      this.state[slot] = USED;
      this.peer[slot] = peerId;
      this.knownCount[slot] = 0;
      this.viaCount[slot] = 0;
      this.dirty[slot] = 0;
      this.used++;
    }
    this.closeAt[slot] = closeAt;
    this.remaining[slot] = remaining;
    this.linklessSince[slot] = 0;
    return slot;
  }

  /**
   * The link of `peerId`'s subscription closed at `now`: suspend it (PROTOCOL.md §9.3). It stays
   * for that peer's next link for at most {@link SUSPEND_MS}, and is the first freed when another
   * peer needs a slot. Absent is a no-op.
   */
  suspend(peerId: string, now: number): void {
    const slot = this.find(peerId);
    if (slot >= 0) this.linklessSince[slot] = Math.max(1, now);
  }

  /** `peerId` has a link again: its suspended subscription, if any, resumes as it was. */
  resume(peerId: string): void {
    const slot = this.find(peerId);
    if (slot >= 0) this.linklessSince[slot] = 0;
  }

  /** Free the suspended slot whose link closed first; false when none is suspended. */
  private evictSuspended(): boolean {
    let best = -1;
    for (let i = 0; i < this.capacity; i++) {
      const t = this.linklessSince[i]!;
      if (this.state[i] === USED && t > 0 && (best < 0 || t < this.linklessSince[best]!)) best = i;
    }
    if (best < 0) return false;
    this.removeSlot(best);
    return true;
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
      const linkless = this.linklessSince[i]!;
      if (this.state[i] === USED && (this.closeAt[i]! <= now || (linkless > 0 && linkless + SUSPEND_MS <= now))) {
        this.removeSlot(i);
        n++;
      }
    }
    return n;
  }

  /** Earliest close time among live entries, or Infinity when empty. */
  earliestClose(): number {
    let t = Infinity;
    for (let i = 0; i < this.capacity; i++) if (this.state[i] === USED && this.closeAt[i]! < t) t = this.closeAt[i]!;
    return t;
  }

  /** Peer id in `slot` ('' when free). */
  peerAt(slot: number): string {
    return this.state[slot] === USED ? this.peer[slot]! : '';
  }

  /** Call `fn` for every used slot. */
  forEach(fn: (slot: number, peerId: string) => void): void {
    for (let i = 0; i < this.capacity; i++) if (this.state[i] === USED) fn(i, this.peer[i]!);
  }

  /** Replace the known heads of `slot` (keeps at most MAX_KNOWN, the first ones given). */
  setKnown(slot: number, handles: ArrayLike<number>): void {
    const n = Math.min(handles.length, MAX_KNOWN);
    for (let k = 0; k < n; k++) this.known[slot * MAX_KNOWN + k] = handles[k]!;
    this.knownCount[slot] = n;
  }

  /** Known heads of `slot` as a fresh array (for the graph walk). */
  knownOf(slot: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.knownCount[slot]!; k++) out.push(this.known[slot * MAX_KNOWN + k]!);
    return out;
  }

  /** Replace the via list of `slot`. */
  setVia(slot: number, peers: readonly string[]): void {
    const n = Math.min(peers.length, MAX_VIA);
    for (let k = 0; k < n; k++) this.via[slot * MAX_VIA + k] = peers[k]!;
    this.viaCount[slot] = n;
  }

  /** Whether the subscriber in `slot` also receives pushes from `peerId`. */
  hasVia(slot: number, peerId: string): boolean {
    for (let k = 0; k < this.viaCount[slot]!; k++) if (this.via[slot * MAX_VIA + k] === peerId) return true;
    return false;
  }

  private removeSlot(slot: number): void {
    // A tombstone keeps probe chains intact; if the next slot is empty the chain ends here anyway.
    this.state[slot] = this.state[(slot + 1) & this.mask] === EMPTY ? EMPTY : TOMBSTONE;
    this.peer[slot] = '';
    this.dirty[slot] = 0;
    this.linklessSince[slot] = 0;
    this.used--;
  }
}
