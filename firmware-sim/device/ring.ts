/**
 * The simulated device's command memory: a ring of the last N commands in fixed buffers, as
 * firmware would keep it. All storage is allocated once in the constructor (N slots of
 * {@link MAX_COMMAND_BYTES} plus N ids); pushing a command into a full ring overwrites the
 * oldest — except that a command the device wrote itself and no peer is known to hold yet is
 * never overwritten by a *received* one: a busy graph must not push the device's own unsynced
 * telemetry out of its memory before anyone has it. Lookups are linear scans over N ids: cheap for the small N a microcontroller holds,
 * and no index to grow.
 */
import { ID_BYTES, MAX_COMMAND_BYTES, SyncwireError } from '../../protocol/index.js';

const OWN = 1;
const HELD = 2;

/** Default ring capacity of a simulated device. */
export const DEFAULT_RING_SIZE = 64;

/** Largest ring a simulated device may ask for (keeps the fixed buffer at 4 MiB). */
export const MAX_RING_SIZE = 4096;

/**
 * A device refused to commit: every ring slot holds an own command no peer holds yet (the uplink
 * has been unreachable for longer than the ring lasts). Reason `Busy`; nothing accepted is lost.
 */
export class DeviceRingFullError extends SyncwireError {
  constructor(capacity: number) {
    super('Busy', `all ${capacity} ring slots hold own commands no peer holds yet; commit refused until the uplink catches up`);
    this.name = 'DeviceRingFullError';
  }
}

/** Fixed-capacity ring of encoded commands, oldest first, deduplicated by id. */
export class CommandRing {
  /** Slots; never changes. */
  readonly capacity: number;
  private readonly data: Uint8Array;
  private readonly lengths: Uint16Array;
  private readonly ids: Uint8Array;
  /** Per slot: bit 0 = written by this device, bit 1 = a peer is known to hold it. */
  private readonly flags: Uint8Array;
  /** Scratch marks for {@link markHeldWithAncestors}, allocated once. */
  private readonly scratch: Uint8Array;
  /** Own commands overwritten before any peer was known to hold them (data lost to the ring size). */
  lostOwn = 0;
  /** Received commands not kept because the ring was full of unsynced own commands. */
  refused = 0;
  /** Slot of the oldest entry. */
  private first = 0;
  private n = 0;

  /**
   * @param capacity number of commands held (default {@link DEFAULT_RING_SIZE}).
   * @throws RangeError unless an integer in 1..{@link MAX_RING_SIZE}.
   */
  constructor(capacity = DEFAULT_RING_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_RING_SIZE) {
      throw new RangeError(`ring size must be an integer in 1..${MAX_RING_SIZE}: ${capacity}`);
    }
    this.capacity = capacity;
    this.data = new Uint8Array(capacity * MAX_COMMAND_BYTES);
    this.lengths = new Uint16Array(capacity);
    this.ids = new Uint8Array(capacity * ID_BYTES);
    this.flags = new Uint8Array(capacity);
    this.scratch = new Uint8Array(capacity);
  }

  /** Commands held, at most {@link capacity}. */
  get count(): number {
    return this.n;
  }

  /**
   * Append a command (its id and exact encoding), evicting the oldest when full. `own` marks a
   * command this device wrote (the default); false means received, and so held by the uplink.
   * @returns false, and changes nothing, when a command with this id is already held, or when it
   * is a received command and the oldest entry is an own command no peer is known to hold.
   * @throws RangeError when `bytes` exceeds {@link MAX_COMMAND_BYTES} or `id` is not 32 bytes.
   */
  push(id: Uint8Array, bytes: Uint8Array, own = true): boolean {
    if (id.length !== ID_BYTES) throw new RangeError('command id must be 32 bytes');
    if (bytes.length === 0 || bytes.length > MAX_COMMAND_BYTES) throw new RangeError(`command of ${bytes.length} bytes does not fit a slot`);
    if (this.indexOf(id) >= 0) return false;
    let slot: number;
    if (this.n < this.capacity) {
      slot = (this.first + this.n) % this.capacity;
      this.n++;
    } else {
      if (this.flags[this.first] === OWN) {
        if (!own) {
          this.refused++;
          return false;
        }
        // Make room by dropping the oldest entry a peer holds; only when every entry is an own
        // command nobody holds yet is one of those lost.
        const j = this.oldestHeld();
        if (j < 0) this.lostOwn++;
        else this.removeAt(j);
      }
      slot = this.first;
      this.first = (this.first + 1) % this.capacity;
    }
    this.flags[slot] = own ? OWN : HELD;
    this.data.set(bytes, slot * MAX_COMMAND_BYTES);
    this.lengths[slot] = bytes.length;
    this.ids.set(id, slot * ID_BYTES);
    return true;
  }

  /** Position of `id` (0 = oldest), or -1 when not held. */
  indexOf(id: Uint8Array): number {
    if (id.length !== ID_BYTES) return -1;
    for (let i = this.n - 1; i >= 0; i--) {
      if (this.idMatches(this.slotOf(i), id)) return i;
    }
    return -1;
  }

  /**
   * True when every slot holds an own command no peer is known to hold: one more own command
   * could only be stored by losing one of those, so the device refuses it instead.
   */
  get fullOfUnsynced(): boolean {
    return this.n === this.capacity && this.oldestHeld() < 0;
  }

  /** Position of the oldest entry that is not an unheld own command, or -1. */
  private oldestHeld(): number {
    for (let i = 0; i < this.n; i++) if (this.flags[this.slotOf(i)] !== OWN) return i;
    return -1;
  }

  /**
   * Remove position `j` (0 < j < n) by moving every older entry one slot newer — a memmove of at
   * most N slots, as firmware would do — so the oldest slot becomes the free one.
   */
  private removeAt(j: number): void {
    for (let k = j; k > 0; k--) {
      const to = this.slotOf(k);
      const from = this.slotOf(k - 1);
      this.data.copyWithin(to * MAX_COMMAND_BYTES, from * MAX_COMMAND_BYTES, from * MAX_COMMAND_BYTES + this.lengths[from]!);
      this.lengths[to] = this.lengths[from]!;
      this.ids.copyWithin(to * ID_BYTES, from * ID_BYTES, (from + 1) * ID_BYTES);
      this.flags[to] = this.flags[from]!;
    }
  }

  /** Record that a peer holds the command at position `i` (it named it, or a descendant, in a poll). */
  markHeld(i: number): void {
    this.flags[this.slotOf(i)]! |= HELD;
  }

  /**
   * Record that a peer holds each of `ids` that is in the ring and every ring ancestor of them:
   * the uplink named them as its heads, or sent commands built on them. One pass newest to
   * oldest (parents nearly always sit before their children; one that arrived later is marked
   * but not followed, which can only delay a mark).
   */
  markHeldWithAncestors(ids: readonly Uint8Array[]): void {
    if (ids.length === 0) return;
    const todo = this.scratch;
    todo.fill(0);
    for (const id of ids) {
      const j = this.indexOf(id);
      if (j >= 0) todo[j] = 1;
    }
    for (let i = this.n - 1; i >= 0; i--) {
      if (todo[i] === 0) continue;
      this.markHeld(i);
      this.forEachParent(i, (p) => {
        const j = this.indexOf(p);
        if (j >= 0) todo[j] = 1;
      });
    }
  }

  /** Whether a peer is known to hold the command at position `i`. */
  isHeld(i: number): boolean {
    return (this.flags[this.slotOf(i)]! & HELD) !== 0;
  }

  /** Whether a command with this id is held. */
  has(id: Uint8Array): boolean {
    return this.indexOf(id) >= 0;
  }

  /** Id at position `i` (0 = oldest). A view into the ring: valid until the next {@link push}. */
  idAt(i: number): Uint8Array {
    const s = this.slotOf(i) * ID_BYTES;
    return this.ids.subarray(s, s + ID_BYTES);
  }

  /** Encoding at position `i`. A view into the ring: valid until the next {@link push}. */
  bytesAt(i: number): Uint8Array {
    const slot = this.slotOf(i);
    const s = slot * MAX_COMMAND_BYTES;
    return this.data.subarray(s, s + this.lengths[slot]!);
  }

  /** Encoded length of the command at position `i`. */
  lengthAt(i: number): number {
    return this.lengths[this.slotOf(i)]!;
  }

  /**
   * Call `fn` with each parent id of the command at position `i` (views into the ring). Parsed in
   * place: every held command passed `encodeCommand`/`decodeCommand`, so its layout is known —
   * `0x85`, an array head of at most 16 items, then `0x58 0x20` + 32 bytes per parent.
   */
  forEachParent(i: number, fn: (parent: Uint8Array) => void): void {
    const bytes = this.bytesAt(i);
    const count = bytes[1]! & 0x1f;
    let at = 2;
    for (let k = 0; k < count; k++) {
      at += 2;
      fn(bytes.subarray(at, at + ID_BYTES));
      at += ID_BYTES;
    }
  }

  /** A copy of the newest id (the device's head), or null when empty. */
  newestId(): Uint8Array | null {
    return this.n === 0 ? null : Uint8Array.from(this.idAt(this.n - 1));
  }

  /**
   * Copies of ids at exponentially growing distances back from the newest (0, 1, 2, 4, 8, …) and
   * the oldest, at most `max`: a responder finds a recent common point with a few dozen bytes.
   */
  sample(max: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.n === 0 || max <= 0) return out;
    let back = 0;
    for (;;) {
      out.push(Uint8Array.from(this.idAt(this.n - 1 - back)));
      if (out.length >= max || back === this.n - 1) return out;
      back = back === 0 ? 1 : Math.min(back * 2, this.n - 1);
    }
  }

  /** Forget everything (the buffers stay allocated). */
  clear(): void {
    this.first = 0;
    this.n = 0;
  }

  private slotOf(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.n) throw new RangeError(`ring position ${i} out of 0..${this.n - 1}`);
    return (this.first + i) % this.capacity;
  }

  private idMatches(slot: number, id: Uint8Array): boolean {
    const ids = this.ids;
    const base = slot * ID_BYTES;
    for (let k = 0; k < ID_BYTES; k++) if (ids[base + k] !== id[k]) return false;
    return true;
  }
}
