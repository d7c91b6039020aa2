/**
 * The compact in-memory index both stores share: every per-command field lives in a typed array
 * addressed by the command's handle (its append position), so a million commands cost tens of
 * megabytes and no JS object each. A `Map` of hex ids would cost several hundred bytes a command.
 *
 * Per command: id 32 B, depth 4, encoded length 2, log offset 8, parent-list start 4, author index
 * 2, seq 4 (56 B a slot), plus 4 B a parent in the shared pool and 4 B a hash slot at load
 * 0.35–0.7 (6–11 B a command): about 70 B a command in all.
 */
import { AUTHOR_BYTES, ID_BYTES, MAX_COMMAND_BYTES } from '../../protocol/constants.js';
import { AuthorTable } from './author-table.js';

type Typed = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

/** First capacity; small so a test store costs little. */
const INITIAL_CAPACITY = 1024;
/**
 * Growth factor. Amortised O(1) like doubling, but 1.25 keeps the slack right after a grow small
 * enough that the index stays under 100 B a command at every size (measured worst: 86 B), not
 * only just before a grow, and lowers the old+new peak while copying. Copies are memcpys: cheap.
 */
const GROWTH = 1.25;
/** Highest hash-table load before it doubles; linear probing stays short below it. */
const MAX_LOAD = 0.7;
/** Fibonacci-hashing multiplier (2^32 / golden ratio). */
const GOLDEN = 0x9e3779b1;

function grown<T extends Typed>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  (b as Uint8Array).set(a as Uint8Array);
  return b;
}

/**
 * Id → handle table plus per-handle depth, length, log offset, parents, author and seq, and the
 * current heads. Handles are dense (0..size-1) in append order, which callers keep causal.
 * Not a store: it does not hold command bytes and trusts its caller's checks (see {@link add}).
 */
export class CommandIndex {
  private n = 0;
  private cap: number;
  private ids: Uint8Array;
  private depths: Uint32Array;
  private lengths: Uint16Array;
  private offsets: Float64Array;
  /** Parents of `h` are `pool[pstart[h] .. pstart[h + 1])` (CSR layout: appends are sequential). */
  private pstart: Int32Array;
  private pool: Int32Array;
  /** Upgraded to 32 bits only if more than 65,536 distinct authors ever appear. */
  private authorIx: Uint16Array | Uint32Array;
  private seqs: Uint32Array;
  private readonly authors = new AuthorTable();
  /** Open addressing, linear probing, -1 = empty. Size is a power of two: 2^(32 - shift). */
  private table: Int32Array;
  private shift: number;
  /**
   * Ids are SHA-256, so their first 4 bytes are uniform; mixing them with a per-process seed
   * keeps an author who grinds ids from aiming at one bucket of *this* table.
   */
  private readonly seed = (Math.random() * 0x100000000) | 0;
  private readonly headSet = new Set<number>();

  /**
   * @param initialCapacity slots allocated up front (default 1,024); the hash table starts at
   *   twice that, rounded up to a power of two (at least 16). A store holding thousands of small
   *   scopes passes a small number so an idle scope costs a few hundred bytes.
   */
  constructor(initialCapacity = INITIAL_CAPACITY) {
    const cap = Math.max(1, Math.floor(initialCapacity));
    this.cap = cap;
    this.ids = new Uint8Array(cap * ID_BYTES);
    this.depths = new Uint32Array(cap);
    this.lengths = new Uint16Array(cap);
    this.offsets = new Float64Array(cap);
    this.pstart = new Int32Array(cap + 1);
    this.pool = new Int32Array(cap);
    this.authorIx = new Uint16Array(cap);
    this.seqs = new Uint32Array(cap);
    const bits = Math.max(4, Math.ceil(Math.log2(cap * 2)));
    this.table = new Int32Array(2 ** bits).fill(-1);
    this.shift = 32 - bits;
  }

  /** Number of commands indexed. */
  get size(): number {
    return this.n;
  }

  /** Handle of `id`, or -1. O(1) expected. */
  indexOf(id: Uint8Array): number {
    if (id.length !== ID_BYTES) return -1;
    const mask = this.table.length - 1;
    for (let s = this.slotOf(id, 0); ; s = (s + 1) & mask) {
      const h = this.table[s]!;
      if (h === -1 || this.idEquals(h, id)) return h;
    }
  }

  /** The id of `h`: a view into the index's buffer (copy it to keep it past the next append). */
  idOf(h: number): Uint8Array {
    this.check(h);
    return this.ids.subarray(h * ID_BYTES, (h + 1) * ID_BYTES);
  }

  /** Generation number of `h` (1 without parents). */
  depthOf(h: number): number {
    this.check(h);
    return this.depths[h]!;
  }

  /** Encoded length of `h` in bytes. */
  lengthOf(h: number): number {
    this.check(h);
    return this.lengths[h]!;
  }

  /** Where the store keeps `h`'s bytes (meaning is the store's: file offset, buffer offset). */
  offsetOf(h: number): number {
    this.check(h);
    return this.offsets[h]!;
  }

  /** Number of parents of `h` (with {@link parentAt}: walks without allocating an array). */
  parentCount(h: number): number {
    this.check(h);
    return this.pstart[h + 1]! - this.pstart[h]!;
  }

  /** The `i`-th parent handle of `h` (0 ≤ i < parentCount(h)). */
  parentAt(h: number, i: number): number {
    return this.pool[this.pstart[h]! + i]!;
  }

  /** Parent handles of `h`, in the order of the command's (sorted) parent ids. */
  parentsOf(h: number): number[] {
    this.check(h);
    return numbersOf(this.pool, this.pstart[h]!, this.pstart[h + 1]!);
  }

  /** Author fingerprint (a copy) and seq of `h`. */
  authorOf(h: number): { author: Uint8Array; seq: number } {
    this.check(h);
    return { author: this.authors.get(this.authorIx[h]!), seq: this.seqs[h]! };
  }

  /** Handles no indexed command names as a parent, ascending (the newest head last). */
  heads(): number[] {
    // Set order is insertion order and a new head is always the newest handle: already sorted.
    return [...this.headSet];
  }

  /** Handles of `parents`, or null when one is not indexed. */
  resolveParents(parents: readonly Uint8Array[]): number[] | null {
    const out: number[] = [];
    for (const p of parents) {
      const h = this.indexOf(p);
      if (h < 0) return null;
      out.push(h);
    }
    return out;
  }

  /**
   * Index a new command and return its handle (the previous size).
   * The caller guarantees the id is absent and every parent handle exists (a handle below size);
   * that is what makes append order a causal order and heads maintainable on append.
   * `depthFloor`: the largest depth of parents that are not indexed (a per-scope store's horizon
   * entries, whose depth it knows); the depth is 1 + the maximum of it and the indexed parents'.
   * @throws RangeError when `length` or a field is out of range (the index would store garbage).
   */
  add(id: Uint8Array, parents: readonly number[], length: number, offset: number, author: Uint8Array, seq: number, depthFloor = 0): number {
    if (id.length !== ID_BYTES || author.length !== AUTHOR_BYTES) throw new RangeError('bad id or author length');
    if (!(length > 0 && length <= MAX_COMMAND_BYTES)) throw new RangeError(`command length ${length} out of range`);
    const h = this.n;
    if (h === this.cap) this.growSlots();
    const p0 = this.pstart[h]!;
    if (p0 + parents.length > this.pool.length) {
      this.pool = grown(this.pool, Math.max(p0 + parents.length, Math.ceil(this.pool.length * GROWTH)));
    }
    for (const p of parents) if (!(p >= 0 && p < h)) throw new RangeError(`parent handle ${p} out of range`);
    let depth = depthFloor;
    for (let i = 0; i < parents.length; i++) {
      const p = parents[i]!;
      this.pool[p0 + i] = p;
      if (this.depths[p]! > depth) depth = this.depths[p]!;
      this.headSet.delete(p);
    }
    this.pstart[h + 1] = p0 + parents.length;
    this.ids.set(id, h * ID_BYTES);
    this.depths[h] = depth + 1;
    this.lengths[h] = length;
    this.offsets[h] = offset;
    const a = this.authors.intern(author);
    if (a > 0xffff && this.authorIx instanceof Uint16Array) this.authorIx = Uint32Array.from(this.authorIx);
    this.authorIx[h] = a;
    this.seqs[h] = seq;
    this.headSet.add(h);
    this.n = h + 1;
    if (this.n > this.table.length * MAX_LOAD) this.rehash(this.table.length * 2);
    else this.insertSlot(h);
    return h;
  }

  /** Bytes held by the index's typed arrays (the heads Set and the author key Map hold a few entries, not counted). */
  byteSize(): number {
    const arrays: Typed[] = [this.ids, this.depths, this.lengths, this.offsets, this.pstart, this.pool, this.authorIx, this.seqs, this.table];
    return arrays.reduce((sum, a) => sum + a.byteLength, this.authors.byteSize());
  }

  private check(h: number): void {
    if (!(h >= 0 && h < this.n)) throw new RangeError(`handle ${h} out of range (size ${this.n})`);
  }

  private slotOf(b: Uint8Array, at: number): number {
    const key = b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
    return Math.imul(key ^ this.seed, GOLDEN) >>> this.shift;
  }

  private idEquals(h: number, id: Uint8Array): boolean {
    const ids = this.ids;
    const base = h * ID_BYTES;
    for (let i = 0; i < ID_BYTES; i++) if (ids[base + i] !== id[i]) return false;
    return true;
  }

  private insertSlot(h: number): void {
    const mask = this.table.length - 1;
    let s = this.slotOf(this.ids, h * ID_BYTES);
    while (this.table[s] !== -1) s = (s + 1) & mask;
    this.table[s] = h;
  }

  private rehash(slots: number): void {
    this.table = new Int32Array(slots).fill(-1);
    this.shift = 32 - Math.log2(slots);
    for (let h = 0; h < this.n; h++) this.insertSlot(h);
  }

  private growSlots(): void {
    const cap = Math.ceil(this.cap * GROWTH);
    this.ids = grown(this.ids, cap * ID_BYTES);
    this.depths = grown(this.depths, cap);
    this.lengths = grown(this.lengths, cap);
    this.offsets = grown(this.offsets, cap);
    this.pstart = grown(this.pstart, cap + 1);
    this.authorIx = grown(this.authorIx, cap);
    this.seqs = grown(this.seqs, cap);
    this.cap = cap;
  }
}

/** `view[from..to)` as a number array: a plain loop, where `Array.from` would iterate the view (several times slower, on every walk step). */
export function numbersOf(view: Int32Array | Uint32Array, from: number, to: number): number[] {
  const out = new Array<number>(to - from);
  for (let i = 0; i < out.length; i++) out[i] = view[from + i]!;
  return out;
}
