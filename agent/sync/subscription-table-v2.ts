/**
 * The v2 responder's subscription table (protocol-v2.md §11.1, docs/design/v2-scopes.md §3.8): one
 * fixed-capacity open-addressing table for all scopes, keyed by **(peer, scope)**. The home slot
 * is `fnv1a(fingerprint(peer key) (8) ‖ scope id (32)) & (capacity − 1)`, probing is linear,
 * equality compares both parts, removed entries leave tombstones. Every array is allocated in the
 * constructor; no operation allocates except the getters documented as returning fresh arrays.
 *
 * A slot holds: the peer (fingerprint and id), the scope (its id and a host-local scope index the
 * pusher assigns), the link it is bound to (-1 while suspended), close time, remaining budget, up
 * to {@link MAX_KNOWN_V2} known heads plus a floor (every handle below it is known), up to 16
 * `via` peers, a dirty bit. The pusher (pusher-v2.ts) owns the table.
 */
import { ID_BYTES, AUTHOR_BYTES } from '../../protocol/constants.js';
import { SlotLifetimes } from './slot-lifetimes.js';
import { subscriptionHash } from './subscription-hash-v2.js';
import { SubscriptionSlotsV2 } from './subscription-slots-v2.js';
import { SubscriptionCapacityError } from './subscription-capacity-error.js';

export { SUSPEND_MS } from './slot-lifetimes.js';
export { subscriptionHash } from './subscription-hash-v2.js';
export { MAX_KNOWN_V2, SubscriptionSlotsV2 } from './subscription-slots-v2.js';
export { SubscriptionCapacityError } from './subscription-capacity-error.js';

/** Bytes of a slot key: the peer's fingerprint, then the scope id. */
export const KEY_BYTES = AUTHOR_BYTES + ID_BYTES;

const EMPTY = 0;
const USED = 1;
const TOMBSTONE = 2;

/** The (peer, scope) subscription table. Slots are addressed by index; -1 means "none". */
export class SubscriptionTableV2 extends SubscriptionSlotsV2 {
  readonly capacity: number;
  private readonly mask: number;
  private readonly state: Uint8Array;
  private readonly keys: Uint8Array;
  private readonly peer: string[];
  private readonly scopeIx: Int32Array;
  private readonly link: Int32Array;
  private readonly life: SlotLifetimes;
  private used = 0;

  /** @param capacity a power of two between 1 and 65,536 (config default 128). @throws SubscriptionCapacityError */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 65536 || (capacity & (capacity - 1)) !== 0) throw new SubscriptionCapacityError(capacity);
    super(capacity);
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.state = new Uint8Array(capacity);
    this.keys = new Uint8Array(capacity * KEY_BYTES);
    this.peer = new Array<string>(capacity).fill('');
    this.scopeIx = new Int32Array(capacity).fill(-1);
    this.link = new Int32Array(capacity).fill(-1);
    this.life = new SlotLifetimes(capacity);
  }

  /** Live entries (expired and suspended ones count until reaped). */
  get size(): number {
    return this.used;
  }

  /** Home slot of a key: its hash masked to the capacity. */
  homeOf(fingerprint: Uint8Array, scopeId: Uint8Array): number {
    return subscriptionHash(fingerprint, scopeId) & this.mask;
  }

  /** Slot of (peer, scope), or -1. */
  find(fingerprint: Uint8Array, scopeId: Uint8Array): number {
    let i = this.homeOf(fingerprint, scopeId);
    for (let n = 0; n < this.capacity; n++, i = (i + 1) & this.mask) {
      const s = this.state[i];
      if (s === EMPTY) return -1;
      if (s === USED && this.keyIs(i, fingerprint, scopeId)) return i;
    }
    return -1;
  }

  /**
   * Claim a slot for (peer, scope), which must be absent. When the table is full the suspended
   * slot whose link closed first is freed (§11.3); -1 when none is (call {@link reap} first).
   * The new slot knows nothing, has no via, is not dirty, and is bound to `link`.
   */
  insert(fingerprint: Uint8Array, peerId: string, scopeId: Uint8Array, scopeIx: number, link: number): number {
    if (this.used >= this.capacity && !this.evictSuspended()) return -1;
    let i = this.homeOf(fingerprint, scopeId);
    while (this.state[i] === USED) i = (i + 1) & this.mask;
    this.state[i] = USED;
    this.keys.set(fingerprint.subarray(0, AUTHOR_BYTES), i * KEY_BYTES);
    this.keys.set(scopeId.subarray(0, ID_BYTES), i * KEY_BYTES + AUTHOR_BYTES);
    this.peer[i] = peerId;
    this.scopeIx[i] = scopeIx;
    this.link[i] = link;
    this.known.clear(i);
    this.via.clear(i);
    this.dirty[i] = 0;
    this.used++;
    return i;
  }

  /** (Re)grant `slot`: closes at `closeAt` (ms), budget `remaining` bytes, not suspended. */
  grant(slot: number, closeAt: number, remaining: number): void {
    this.life.grant(slot, closeAt);
    this.budget[slot] = remaining;
  }

  /** The link of `slot` closed at `now`: suspended, kept for the same peer for at most {@link SUSPEND_MS}. */
  suspend(slot: number, now: number): void {
    this.life.suspend(slot, now);
    this.link[slot] = -1;
  }

  /** `slot` is usable again on `link` (a resumption: known heads and budget as they were). */
  resume(slot: number, link: number): void {
    this.life.resume(slot);
    this.link[slot] = link;
  }

  /** Whether `slot` is suspended (its link closed and no new one took it up yet). */
  isSuspended(slot: number): boolean {
    return this.link[slot]! < 0;
  }

  /** Free `slot` (a used one). */
  remove(slot: number): void {
    // A tombstone keeps probe chains intact; if the next slot is empty the chain ends here anyway.
    this.state[slot] = this.state[(slot + 1) & this.mask] === EMPTY ? EMPTY : TOMBSTONE;
    this.peer[slot] = '';
    this.scopeIx[slot] = -1;
    this.link[slot] = -1;
    this.dirty[slot] = 0;
    this.life.resume(slot);
    this.used--;
  }

  /** Remove every slot whose close time is ≤ `now` or that is suspended for {@link SUSPEND_MS}; `gone` sees each first. */
  reap(now: number, gone?: (slot: number) => void): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (this.state[i] !== USED || !this.life.over(i, now)) continue;
      gone?.(i);
      this.remove(i);
      n++;
    }
    return n;
  }

  /** Earliest close time among live slots (ms), Infinity when empty. */
  earliestClose(): number {
    let t = Infinity;
    for (let i = 0; i < this.capacity; i++) if (this.state[i] === USED) t = Math.min(t, this.life.closeAtOf(i));
    return t;
  }

  /** Call `fn` for every used slot, in slot order. */
  forEach(fn: (slot: number) => void): void {
    for (let i = 0; i < this.capacity; i++) if (this.state[i] === USED) fn(i);
  }

  /** Whether `slot` is in use. */
  isUsed(slot: number): boolean {
    return this.state[slot] === USED;
  }

  /** Peer id (16 hex) of `slot`, '' when free. */
  peerAt(slot: number): string {
    return this.peer[slot]!;
  }

  /** Host-local scope index of `slot`, -1 when free. */
  scopeIxAt(slot: number): number {
    return this.scopeIx[slot]!;
  }

  /** The scope id of `slot` (a view into the table: copy it to keep it). */
  scopeIdAt(slot: number): Uint8Array {
    return this.keys.subarray(slot * KEY_BYTES + AUTHOR_BYTES, (slot + 1) * KEY_BYTES);
  }

  /** Link id `slot` is bound to, -1 while suspended. */
  linkAt(slot: number): number {
    return this.link[slot]!;
  }

  /** Close time of `slot`, ms. */
  closeAtOf(slot: number): number {
    return this.life.closeAtOf(slot);
  }

  /** Mark every slot of scope index `scopeIx` dirty (new commands in that scope). */
  markScopeDirty(scopeIx: number): void {
    for (let i = 0; i < this.capacity; i++) if (this.state[i] === USED && this.scopeIx[i] === scopeIx) this.dirty[i] = 1;
  }

  private keyIs(slot: number, fingerprint: Uint8Array, scopeId: Uint8Array): boolean {
    const k = this.keys;
    const at = slot * KEY_BYTES;
    for (let j = 0; j < AUTHOR_BYTES; j++) if (k[at + j] !== fingerprint[j]) return false;
    for (let j = 0; j < ID_BYTES; j++) if (k[at + AUTHOR_BYTES + j] !== scopeId[j]) return false;
    return true;
  }

  private evictSuspended(): boolean {
    const best = this.life.firstSuspended(this.capacity, (i) => this.state[i] === USED && this.link[i]! < 0);
    if (best < 0) return false;
    this.remove(best);
    return true;
  }
}
