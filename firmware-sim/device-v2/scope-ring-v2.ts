/**
 * One scope's ring of data commands on the v2 device (§7 item 3): fixed buffers allocated at
 * construction, entries in append order (position 0 = oldest), each with its id, exact
 * encoding, depth (u32), frontier index (u8, into the scope's frontier table), append number
 * (u32, shared with the scope's membership commands so that answers keep append order) and
 * flags (own, held by the peer). When full, the oldest entry that is not an own command no peer
 * holds gives way; a ring full of those refuses (§11.1 Q-3: the device does not lose them).
 * Membership commands are kept outside the ring (scope-v2.ts), never evicted.
 */
import { ID_BYTES, MAX_COMMAND_BYTES } from '../../protocol/constants.js';

const OWN = 1;
const HELD = 2;

/** An entry that left the ring to make room. */
export interface Evicted { id: Uint8Array; depth: number; frontier: number }

/** A fixed ring of one scope's data commands. */
export class ScopeRingV2 {
  /** Slots. */
  readonly capacity: number;
  private readonly data: Uint8Array;
  private readonly lengths: Uint16Array;
  private readonly ids: Uint8Array;
  private readonly depths: Uint32Array;
  private readonly frontiers: Uint8Array;
  private readonly orders: Uint32Array;
  private readonly flags: Uint8Array;
  private n = 0;

  /** @throws RangeError unless `capacity` is an integer in 1..1024. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1024) throw new RangeError(`ring size must be an integer in 1..1024: ${capacity}`);
    this.capacity = capacity;
    this.data = new Uint8Array(capacity * MAX_COMMAND_BYTES);
    this.lengths = new Uint16Array(capacity);
    this.ids = new Uint8Array(capacity * ID_BYTES);
    this.depths = new Uint32Array(capacity);
    this.frontiers = new Uint8Array(capacity);
    this.orders = new Uint32Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  /** Entries held. */
  get count(): number {
    return this.n;
  }

  /** True when every slot holds an own command no peer holds: one more could only be stored by losing one. */
  get fullOfUnsynced(): boolean {
    return this.n === this.capacity && this.victim() < 0;
  }

  /**
   * Append a command (already accepted). `own`: written by this device. Returns the entry evicted
   * to make room (null when none), or `false` (nothing changed) when the ring is full of own
   * commands no peer holds.
   */
  push(id: Uint8Array, bytes: Uint8Array, depth: number, frontier: number, order: number, own: boolean): Evicted | null | false {
    let evicted: Evicted | null = null;
    if (this.n === this.capacity) {
      const j = this.victim();
      if (j < 0) return false;
      evicted = { id: Uint8Array.from(this.idAt(j)), depth: this.depths[j]!, frontier: this.frontiers[j]! };
      this.removeAt(j);
    }
    const i = this.n++;
    this.data.set(bytes, i * MAX_COMMAND_BYTES);
    this.lengths[i] = bytes.length;
    this.ids.set(id, i * ID_BYTES);
    this.depths[i] = depth;
    this.frontiers[i] = frontier;
    this.orders[i] = order;
    this.flags[i] = own ? OWN : HELD;
    return evicted;
  }

  /** Position of `id`, or -1. */
  indexOf(id: Uint8Array): number {
    if (id.length !== ID_BYTES) return -1;
    outer: for (let i = this.n - 1; i >= 0; i--) {
      const base = i * ID_BYTES;
      for (let k = 0; k < ID_BYTES; k++) if (this.ids[base + k] !== id[k]) continue outer;
      return i;
    }
    return -1;
  }

  /** Id at position `i` (a view, valid until the ring changes). */
  idAt(i: number): Uint8Array {
    return this.ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES);
  }

  /** Encoding at position `i` (a view, valid until the ring changes). */
  bytesAt(i: number): Uint8Array {
    return this.data.subarray(i * MAX_COMMAND_BYTES, i * MAX_COMMAND_BYTES + this.lengths[i]!);
  }

  /** Depth at position `i`. */
  depthAt(i: number): number {
    return this.depths[i]!;
  }

  /** Frontier index at position `i`. */
  frontierAt(i: number): number {
    return this.frontiers[i]!;
  }

  /** Append number at position `i`. */
  orderAt(i: number): number {
    return this.orders[i]!;
  }

  /** Whether position `i` is an own command. */
  isOwn(i: number): boolean {
    return (this.flags[i]! & OWN) !== 0;
  }

  /** Record that the peer holds position `i`. */
  markHeld(i: number): void {
    this.flags[i]! |= HELD;
  }

  /**
   * The sender of a command holds what it built on: mark `parents` and, through the ring, every
   * ancestor of them held (so the ring may overwrite them).
   */
  markHeldFrom(parents: readonly Uint8Array[]): void {
    const todo = parents.map((p) => Uint8Array.from(p));
    for (let i = this.n - 1; i >= 0 && todo.length > 0; i--) {
      const id = this.idAt(i);
      const k = todo.findIndex((p) => sameId(p, id));
      if (k < 0) continue;
      todo.splice(k, 1);
      this.markHeld(i);
      this.forEachParent(i, (p) => todo.push(Uint8Array.from(p)));
    }
  }

  /**
   * Call `fn` with each parent id of position `i` (views), parsed in place: a held command passed
   * `decodeCommandV2`/`encodeCommandV2`, so it starts `0x86`, a parents array head of at most 16
   * items, then `0x58 0x20` and 32 bytes per parent, strictly ascending.
   */
  forEachParent(i: number, fn: (parent: Uint8Array) => void): void {
    forEachParentOf(this.bytesAt(i), fn);
  }

  /** Whether some entry names `id` as a parent. */
  names(id: Uint8Array): boolean {
    for (let i = 0; i < this.n; i++) {
      let hit = false;
      this.forEachParent(i, (p) => {
        if (!hit && sameId(p, id)) hit = true;
      });
      if (hit) return true;
    }
    return false;
  }

  /** Forget everything (the buffers stay). */
  clear(): void {
    this.n = 0;
  }

  private victim(): number {
    for (let i = 0; i < this.n; i++) if (this.flags[i] !== OWN) return i;
    return -1;
  }

  /** Remove position `j`, moving every newer entry one slot older (a memmove, as firmware would). */
  private removeAt(j: number): void {
    const last = this.n - 1;
    this.data.copyWithin(j * MAX_COMMAND_BYTES, (j + 1) * MAX_COMMAND_BYTES, this.n * MAX_COMMAND_BYTES);
    this.ids.copyWithin(j * ID_BYTES, (j + 1) * ID_BYTES, this.n * ID_BYTES);
    for (const a of [this.lengths, this.depths, this.frontiers, this.orders, this.flags]) a.copyWithin(j, j + 1, this.n);
    this.n = last;
  }
}

/** Parent ids of a v2 command encoding (views), in encoding order (ascending). */
export function forEachParentOf(bytes: Uint8Array, fn: (parent: Uint8Array) => void): void {
  const count = bytes[1]! & 0x1f;
  let at = 2;
  for (let k = 0; k < count; k++) {
    at += 2;
    fn(bytes.subarray(at, at + ID_BYTES));
    at += ID_BYTES;
  }
}

/** Byte equality of two 32-byte ids. */
export function sameId(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}
