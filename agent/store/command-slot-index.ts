/**
 * The slot index of a scope past {@link COMPACT_MAX_COMMANDS} commands: the v1
 * {@link CommandIndex} (ids, parents, depths, lengths, offsets, authors, heads) plus the three
 * per-slot fields v2 adds (kind, frontier number, arrival time) in their own typed arrays. Its
 * fixed cost (~3 KB) is small beside the ~75 B a command of a scope this size, and it keeps O(1)
 * heads and 2-byte author numbers.
 *
 * {@link repackSlots} builds either kind of slot index from the slots a scope still retains: a
 * CommandIndex cannot drop a slot in place (its arrays, pool and hash table are addressed by
 * slot), so freeing pruned slots means copying the kept ones into a new index.
 */
import type { CommandKindValue } from '../../protocol/constants-v2.js';
import { CommandIndex } from './command-index.js';
import { COMPACT_MAX_COMMANDS, CompactIndex, type SlotIndex } from './compact-index.js';

/** {@link SlotIndex} over a {@link CommandIndex}. */
export class CommandSlotIndex implements SlotIndex {
  private readonly ix: CommandIndex;
  private kinds: Uint8Array;
  private frontiers: Uint16Array | Uint32Array;
  private times: Uint32Array;

  /** @param initialSlots slots allocated up front. */
  constructor(initialSlots: number) {
    const cap = Math.max(1, Math.floor(initialSlots));
    this.ix = new CommandIndex(cap);
    this.kinds = new Uint8Array(cap);
    this.frontiers = new Uint16Array(cap);
    this.times = new Uint32Array(cap);
  }

  /** A copy of `from` (every slot, same numbers), with room to grow. */
  static from(from: SlotIndex): CommandSlotIndex {
    const to = new CommandSlotIndex(Math.max(COMPACT_MAX_COMMANDS, Math.ceil(from.size * 1.25)));
    for (let s = 0; s < from.size; s++) {
      const { author, seq } = from.authorOf(s);
      // The depth floor keeps the depth as it was (it may come from horizon parents not indexed).
      to.add(from.idOf(s), from.parentsOf(s), from.lengthOf(s), from.offsetOf(s), author, seq, from.depthOf(s) - 1, from.kindOf(s), from.frontierOf(s), from.timeOf(s));
    }
    return to;
  }

  get size(): number {
    return this.ix.size;
  }

  /** The per-slot arrays' length (the CommandIndex's capacity grows in step with them). */
  get capacity(): number {
    return this.kinds.length;
  }

  indexOf(id: Uint8Array): number {
    return this.ix.indexOf(id);
  }

  idOf(s: number): Uint8Array {
    return this.ix.idOf(s);
  }

  depthOf(s: number): number {
    return this.ix.depthOf(s);
  }

  lengthOf(s: number): number {
    return this.ix.lengthOf(s);
  }

  offsetOf(s: number): number {
    return this.ix.offsetOf(s);
  }

  authorOf(s: number): { author: Uint8Array; seq: number } {
    return this.ix.authorOf(s);
  }

  parentsOf(s: number): number[] {
    return this.ix.parentsOf(s);
  }

  kindOf(s: number): CommandKindValue {
    this.ix.depthOf(s); // range check
    return this.kinds[s]! as CommandKindValue;
  }

  frontierOf(s: number): number {
    this.ix.depthOf(s);
    return this.frontiers[s]!;
  }

  timeOf(s: number): number {
    this.ix.depthOf(s);
    return this.times[s]!;
  }

  heads(): number[] {
    return this.ix.heads();
  }

  add(id: Uint8Array, parents: readonly number[], length: number, offset: number, author: Uint8Array, seq: number, depthFloor: number, kind: CommandKindValue, frontier: number, timeS: number): number {
    const s = this.ix.add(id, parents, length, offset, author, seq, depthFloor);
    if (s >= this.kinds.length) this.grow();
    if (frontier > 0xffff && this.frontiers instanceof Uint16Array) this.frontiers = Uint32Array.from(this.frontiers);
    this.kinds[s] = kind;
    this.frontiers[s] = frontier;
    this.times[s] = timeS >>> 0;
    return s;
  }

  byteSize(): number {
    return this.ix.byteSize() + this.kinds.byteLength + this.frontiers.byteLength + this.times.byteLength;
  }

  private grow(): void {
    const cap = Math.ceil(this.kinds.length * 1.25) + 1;
    const k = new Uint8Array(cap);
    k.set(this.kinds);
    this.kinds = k;
    const f = new (this.frontiers.constructor as new (n: number) => Uint16Array | Uint32Array)(cap);
    f.set(this.frontiers);
    this.frontiers = f;
    const t = new Uint32Array(cap);
    t.set(this.times);
    this.times = t;
  }
}

/**
 * Moves a kept command's bytes: given its old offset and length, returns its new offset. Called
 * once per kept slot, in slot order. A store whose offsets do not change (a file) passes none.
 */
export type SlotMove = (offset: number, length: number) => number;

/**
 * A new slot index holding only the slots `keep` of `from` (ascending), renumbered
 * 0..keep.length − 1 in that order. A parent outside `keep` is dropped (the depth floor keeps
 * the depth as it was, as for a parent pruned before an open); every other field is copied, the
 * offset through `move` when given. Heads can only grow by this (a command whose children were
 * all dropped becomes one): the caller decides what they mean.
 *
 * A {@link CompactIndex} when `keep` fits one ({@link COMPACT_MAX_COMMANDS}), else a
 * {@link CommandSlotIndex}; either with a quarter of room to grow, so the repacked index's
 * capacity is O(kept). O(from.size + kept).
 * @throws RangeError when `keep` is not ascending or names a slot not filled.
 */
export function repackSlots(from: SlotIndex, keep: readonly number[], move?: SlotMove): SlotIndex {
  const room = Math.ceil(keep.length * 1.25) + 1;
  const to: SlotIndex = keep.length <= COMPACT_MAX_COMMANDS ? new CompactIndex(Math.min(COMPACT_MAX_COMMANDS, room)) : new CommandSlotIndex(room);
  const renumbered = new Int32Array(from.size).fill(-1);
  let last = -1;
  for (const s of keep) {
    if (!(s > last && s < from.size)) throw new RangeError(`repack: slot ${s} out of order or not filled`);
    last = s;
    const parents: number[] = [];
    for (const p of from.parentsOf(s)) {
      const q = renumbered[p]!;
      if (q >= 0) parents.push(q);
    }
    const { author, seq } = from.authorOf(s);
    const length = from.lengthOf(s);
    const offset = move === undefined ? from.offsetOf(s) : move(from.offsetOf(s), length);
    renumbered[s] = to.add(from.idOf(s), parents, length, offset, author, seq, from.depthOf(s) - 1, from.kindOf(s), from.frontierOf(s), from.timeOf(s));
  }
  return to;
}
