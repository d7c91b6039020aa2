/**
 * The frontier table of one scope on the v2 device (§7 item 3): at most
 * {@link MEMBERSHIP_SLOTS} frontiers of the scope's membership graph, interned, each named by
 * the u8 index that ring and horizon entries keep. The table is fixed at construction; a scope
 * that would need a 17th frontier is refused as a whole (the caller counts `overflow`), so an
 * index once given stays valid until the slot is freed.
 */
import type { Frontier, MembershipGraph } from '../../protocol/membership.js';
import { MEMBERSHIP_SLOTS } from './types-v2.js';

/** Interned frontier numbers of one scope's graph, by u8 index. */
export class FrontierTableV2 {
  private readonly refs = new Uint32Array(MEMBERSHIP_SLOTS);
  private n = 0;

  /** Frontiers held. */
  get count(): number {
    return this.n;
  }

  /** The graph's frontier number at index `fi` (an index this table gave out). */
  ref(fi: number): number {
    return this.refs[fi]!;
  }

  /** The ids of the frontier at index `fi`, ascending. */
  ids(graph: MembershipGraph, fi: number): Uint8Array[] {
    return graph.idsOf(graph.frontierAt(this.ref(fi)));
  }

  /** The index of `f` (interned in `graph`), or -1 when the table is full. */
  indexOf(graph: MembershipGraph, f: Frontier): number {
    const ref = graph.intern(f);
    for (let i = 0; i < this.n; i++) if (this.refs[i] === ref) return i;
    if (this.n >= MEMBERSHIP_SLOTS) return -1;
    this.refs[this.n] = ref;
    return this.n++;
  }

  /** Forget every frontier (the slot was freed). */
  clear(): void {
    this.n = 0;
  }
}
