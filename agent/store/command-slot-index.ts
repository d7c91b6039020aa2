/**
 * The slot index of a scope past {@link COMPACT_MAX_COMMANDS} commands: the v1
 * {@link CommandIndex} (ids, parents, depths, lengths, offsets, authors, heads) plus the three
 * per-slot fields v2 adds (kind, frontier number, arrival time) in their own typed arrays. Its
 * fixed cost (~3 KB) is small beside the ~75 B a command of a scope this size, and it keeps O(1)
 * heads and 2-byte author numbers.
 */
import type { CommandKindValue } from '../../protocol/constants-v2.js';
import { CommandIndex } from './command-index.js';
import { COMPACT_MAX_COMMANDS, type SlotIndex } from './compact-index.js';

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
