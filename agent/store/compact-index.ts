/**
 * The index of a small scope (docs/design/v2-scopes.md §5.4). Every field of a slot lives in one
 * 72-byte record, and every record in one ArrayBuffer read through two views (bytes and 32-bit
 * words), grown by reallocating that one buffer. A {@link CommandIndex} spends ~180 B of object
 * overhead on each of its nine typed arrays plus an author Map and a heads Set (~3 KB before the
 * first command): too much for a gateway hosting thousands of idle two-command scopes.
 *
 * What stays small: ids are found by a linear scan up to {@link LINEAR_MAX} commands, above it by
 * a hash table created then; the first parent is kept in the record, a merge's parents in a pool
 * created at the first merge; heads are the records no later record names (a flag), found by a
 * scan. Those scans are why the scope index moves to a CommandIndex past
 * {@link COMPACT_MAX_COMMANDS} (scope-index.ts): big scopes keep its O(1) heads and 2-byte
 * author numbers.
 *
 * Record (32-bit words): 0–7 id, 8 depth, 9–10 offset (low, high signed), 11 seq, 12 arrival
 * time, 13 frontier, 14 meta (length 0–15, kind 16–20, parent count 21–26, has-child 27),
 * 15–16 author fingerprint, 17 the parent (1 parent) or the pool start (2 or more).
 */
import { AUTHOR_BYTES, ID_BYTES, MAX_COMMAND_BYTES, MAX_PARENTS } from '../../protocol/constants.js';
import type { CommandKindValue } from '../../protocol/constants-v2.js';
import { numbersOf } from './command-index.js';

/** Commands a compact index holds at most; the scope index switches to a CommandIndex beyond. */
export const COMPACT_MAX_COMMANDS = 256;
/** Up to this many commands, ids are found by a linear scan (no hash table exists). */
export const LINEAR_MAX = 16;

/** Slot fields the scope index reads; {@link CompactIndex} and the CommandIndex-backed index implement it. */
export interface SlotIndex {
  /** Slots filled (0..size-1, in add order). */
  readonly size: number;
  /** Slots allocated (≥ size): what the per-slot arrays hold before they grow. */
  readonly capacity: number;
  /** Slot of `id`, or -1. */
  indexOf(id: Uint8Array): number;
  /** The id of slot `s`: a view (copy it to keep it past the next add). */
  idOf(s: number): Uint8Array;
  depthOf(s: number): number;
  lengthOf(s: number): number;
  /** The owning store's offset (file or buffer; negative: `members.log`, the store's encoding). */
  offsetOf(s: number): number;
  /** Author fingerprint (a copy) and seq. */
  authorOf(s: number): { author: Uint8Array; seq: number };
  /** Parent slots, in the command's parent order. */
  parentsOf(s: number): number[];
  kindOf(s: number): CommandKindValue;
  frontierOf(s: number): number;
  timeOf(s: number): number;
  /** Slots no filled slot names as a parent, ascending. */
  heads(): number[];
  /**
   * Fill the next slot and return it. The caller guarantees `id` is absent and every parent is
   * a filled slot (so add order is causal); depth = 1 + max(`depthFloor`, the parents' depths).
   * @throws RangeError when a field is out of range.
   */
  add(id: Uint8Array, parents: readonly number[], length: number, offset: number, author: Uint8Array, seq: number, depthFloor: number, kind: CommandKindValue, frontier: number, timeS: number): number;
  /** Bytes of the index's buffers (object headers not counted). */
  byteSize(): number;
}

const WORDS = 18;
/** Bytes of one slot's record. */
export const RECORD_BYTES = WORDS * 4;
const W_DEPTH = 8;
const W_OFF_LO = 9;
const W_OFF_HI = 10;
const W_SEQ = 11;
const W_TIME = 12;
const W_FRONTIER = 13;
const W_META = 14;
const B_AUTHOR = 15 * 4;
const W_PARENT = 17;
const HAS_CHILD = 1 << 27;
const TWO_32 = 2 ** 32;
/** Slots of a new index: an idle scope holds a genesis and a command or two. */
const INITIAL_SLOTS = 2;
const MAX_LOAD = 0.7;
const GOLDEN = 0x9e3779b1;
/**
 * One seed per process (ids are SHA-256, so uniform; the seed keeps an author who grinds ids from
 * aiming at one bucket): shared by every compact index rather than a field of each.
 */
const SEED = (Math.random() * TWO_32) | 0;

/** The slot index of a small scope (see the module comment). */
export class CompactIndex implements SlotIndex {
  private n = 0;
  private cap: number;
  private u8: Uint8Array;
  private u32: Uint32Array;
  /** Parents of merges, created at the first one. */
  private pool: Int32Array | null = null;
  private poolUsed = 0;
  /** Open addressing, linear probing, -1 empty; created past {@link LINEAR_MAX} commands. */
  private table: Int32Array | null = null;

  /** @param initialSlots records allocated up front (default 2). */
  constructor(initialSlots = INITIAL_SLOTS) {
    this.cap = Math.max(1, Math.floor(initialSlots));
    this.u32 = new Uint32Array(this.cap * WORDS);
    this.u8 = new Uint8Array(this.u32.buffer);
  }

  get size(): number {
    return this.n;
  }

  get capacity(): number {
    return this.cap;
  }

  indexOf(id: Uint8Array): number {
    if (id.length !== ID_BYTES) return -1;
    const table = this.table;
    if (table === null) {
      for (let s = 0; s < this.n; s++) if (this.idEquals(s, id)) return s;
      return -1;
    }
    const mask = table.length - 1;
    for (let i = slotOf(id, 0, table.length); ; i = (i + 1) & mask) {
      const s = table[i]!;
      if (s === -1 || this.idEquals(s, id)) return s;
    }
  }

  idOf(s: number): Uint8Array {
    const b = this.check(s) * 4;
    return this.u8.subarray(b, b + ID_BYTES);
  }

  depthOf(s: number): number {
    return this.u32[this.check(s) + W_DEPTH]!;
  }

  lengthOf(s: number): number {
    return this.u32[this.check(s) + W_META]! & 0xffff;
  }

  offsetOf(s: number): number {
    const w = this.check(s);
    return (this.u32[w + W_OFF_HI]! | 0) * TWO_32 + this.u32[w + W_OFF_LO]!;
  }

  authorOf(s: number): { author: Uint8Array; seq: number } {
    const w = this.check(s);
    const b = w * 4 + B_AUTHOR;
    return { author: this.u8.slice(b, b + AUTHOR_BYTES), seq: this.u32[w + W_SEQ]! };
  }

  parentsOf(s: number): number[] {
    const w = this.check(s);
    const count = (this.u32[w + W_META]! >>> 21) & 0x3f;
    const p = this.u32[w + W_PARENT]!;
    if (count <= 1) return count === 0 ? [] : [p];
    return numbersOf(this.pool!, p, p + count);
  }

  kindOf(s: number): CommandKindValue {
    return ((this.u32[this.check(s) + W_META]! >>> 16) & 0x1f) as CommandKindValue;
  }

  frontierOf(s: number): number {
    return this.u32[this.check(s) + W_FRONTIER]!;
  }

  timeOf(s: number): number {
    return this.u32[this.check(s) + W_TIME]!;
  }

  heads(): number[] {
    const out: number[] = [];
    for (let s = 0, w = W_META; s < this.n; s++, w += WORDS) if ((this.u32[w]! & HAS_CHILD) === 0) out.push(s);
    return out;
  }

  add(id: Uint8Array, parents: readonly number[], length: number, offset: number, author: Uint8Array, seq: number, depthFloor: number, kind: CommandKindValue, frontier: number, timeS: number): number {
    if (id.length !== ID_BYTES || author.length !== AUTHOR_BYTES) throw new RangeError('bad id or author length');
    if (!(length > 0 && length <= MAX_COMMAND_BYTES)) throw new RangeError(`command length ${length} out of range`);
    if (!Number.isSafeInteger(offset)) throw new RangeError(`offset ${offset} is not an integer`);
    if (parents.length > MAX_PARENTS) throw new RangeError(`${parents.length} parents`);
    if (!(kind >= 0 && kind <= 0x1f)) throw new RangeError(`kind ${kind} out of range`);
    const s = this.n;
    for (const p of parents) if (!(p >= 0 && p < s)) throw new RangeError(`parent handle ${p} out of range`);
    if (s === this.cap) this.grow();
    const u32 = this.u32;
    let depth = depthFloor;
    for (const p of parents) {
      const pw = p * WORDS;
      if (u32[pw + W_DEPTH]! > depth) depth = u32[pw + W_DEPTH]!;
      u32[pw + W_META] = u32[pw + W_META]! | HAS_CHILD;
    }
    const w = s * WORDS;
    this.u8.set(id, w * 4);
    this.u8.set(author, w * 4 + B_AUTHOR);
    u32[w + W_DEPTH] = depth + 1;
    const hi = Math.floor(offset / TWO_32);
    u32[w + W_OFF_LO] = offset - hi * TWO_32;
    u32[w + W_OFF_HI] = hi;
    u32[w + W_SEQ] = seq;
    u32[w + W_TIME] = timeS;
    u32[w + W_FRONTIER] = frontier;
    u32[w + W_META] = length | (kind << 16) | (parents.length << 21);
    u32[w + W_PARENT] = parents.length === 1 ? parents[0]! : parents.length > 1 ? this.pooled(parents) : 0;
    this.n = s + 1;
    if (this.table !== null) {
      if (this.n > this.table.length * MAX_LOAD) this.rehash(this.table.length * 2);
      else this.insertSlot(this.table, s);
    } else if (this.n > LINEAR_MAX) this.rehash(2 ** Math.ceil(Math.log2(this.n * 2)));
    return s;
  }

  byteSize(): number {
    return this.u32.byteLength + (this.pool?.byteLength ?? 0) + (this.table?.byteLength ?? 0);
  }

  /** ArrayBuffers this index owns: 1, plus the merge pool and the hash table once created. */
  get buffers(): number {
    return 1 + (this.pool === null ? 0 : 1) + (this.table === null ? 0 : 1);
  }

  /** The first word of slot `s`. @throws RangeError for a slot not filled. */
  private check(s: number): number {
    if (!(s >= 0 && s < this.n)) throw new RangeError(`handle ${s} out of range (size ${this.n})`);
    return s * WORDS;
  }

  private idEquals(s: number, id: Uint8Array): boolean {
    const u8 = this.u8;
    const b = s * RECORD_BYTES;
    for (let i = 0; i < ID_BYTES; i++) if (u8[b + i] !== id[i]) return false;
    return true;
  }

  /** Put a merge's parents in the pool; returns where they start. */
  private pooled(parents: readonly number[]): number {
    const at = this.poolUsed;
    if (this.pool === null || at + parents.length > this.pool.length) {
      const next = new Int32Array(Math.max(at + parents.length, (this.pool?.length ?? 4) * 2));
      if (this.pool !== null) next.set(this.pool);
      this.pool = next;
    }
    this.pool.set(parents, at);
    this.poolUsed = at + parents.length;
    return at;
  }

  private insertSlot(table: Int32Array, s: number): void {
    const mask = table.length - 1;
    let i = slotOf(this.u8, s * RECORD_BYTES, table.length);
    while (table[i] !== -1) i = (i + 1) & mask;
    table[i] = s;
  }

  private rehash(slots: number): void {
    const table = new Int32Array(slots).fill(-1);
    for (let s = 0; s < this.n; s++) this.insertSlot(table, s);
    this.table = table;
  }

  private grow(): void {
    const cap = Math.ceil(this.cap * 1.5) + 1;
    const u32 = new Uint32Array(cap * WORDS);
    u32.set(this.u32);
    this.u32 = u32;
    this.u8 = new Uint8Array(u32.buffer);
    this.cap = cap;
  }
}

/** Bucket of the id starting at `b[at]` in a table of `slots` (a power of two). */
function slotOf(b: Uint8Array, at: number, slots: number): number {
  const key = b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
  // slots = 2^k: keep the top k bits (clz32(2^k) + 1 = 32 - k).
  return Math.imul(key ^ SEED, GOLDEN) >>> (Math.clz32(slots) + 1);
}
