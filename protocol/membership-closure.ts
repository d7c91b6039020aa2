/**
 * Ancestry over the membership DAG of one scope (design v2-scopes §1.6): the node kept per
 * membership command with its ancestor bitset, `max` of a set of nodes, the closure of a frontier
 * and `state(F)` by remove-wins merging over that closure. Node numbers are arrival order, which
 * is topological (a membership command is added only after its frontier), and the walks rely on it.
 */
import type { Frontier } from './membership-types.js';

/** One membership command as the graph keeps it. @internal */
export interface MembershipNode {
  id: Uint8Array;
  /** F(m) (∅ for the genesis). */
  frontier: Frontier;
  /** The frontier {m}. */
  self: Frontier;
  /** Key numbers this command sets, and the roles it gives each. */
  opKeys: number[];
  opRoles: number[];
  /** Bit o set iff node o is a strict ancestor; ceil(number/32) words. */
  anc: Uint32Array;
}

/** True when node `o` is a strict ancestor of node `m`. O(1). @internal */
export function isAnc(nodes: readonly MembershipNode[], o: number, m: number): boolean {
  const anc = nodes[m]!.anc;
  const w = o >>> 5;
  return w < anc.length && ((anc[w]! >>> (o & 31)) & 1) === 1;
}

/** The ancestor bitset of a new node numbered `n` whose frontier is `frontier`. @internal */
export function ancestorBits(nodes: readonly MembershipNode[], frontier: Frontier, n: number): Uint32Array {
  const anc = new Uint32Array((n + 31) >>> 5);
  for (const f of frontier.nodes) {
    anc[f >>> 5]! |= 1 << (f & 31);
    const fa = nodes[f]!.anc;
    for (let w = 0; w < fa.length; w++) anc[w]! |= fa[w]!;
  }
  return anc;
}

/** Node numbers of `set` (deduplicated) that are no ancestor of another; ascending. @internal */
export function maxNodes(nodes: readonly MembershipNode[], set: readonly number[]): number[] {
  const uniq = [...new Set(set)].sort((a, b) => a - b);
  const top = uniq[uniq.length - 1];
  if (top === undefined) return [];
  const covered = new Uint32Array((top >>> 5) + 1);
  for (const n of uniq) {
    const anc = nodes[n]!.anc;
    for (let w = 0; w < anc.length && w < covered.length; w++) covered[w]! |= anc[w]!;
  }
  return uniq.filter((n) => ((covered[n >>> 5]! >>> (n & 31)) & 1) === 0);
}

/** Closure of `f` as a bitset over node numbers. @internal */
export function closureOf(nodes: readonly MembershipNode[], f: Frontier): Uint32Array {
  const top = f.nodes[f.nodes.length - 1] ?? -1;
  const bits = new Uint32Array((top >>> 5) + 1);
  for (const n of f.nodes) {
    bits[n >>> 5]! |= 1 << (n & 31);
    const anc = nodes[n]!.anc;
    for (let w = 0; w < anc.length; w++) bits[w]! |= anc[w]!;
  }
  return bits;
}

/** `state(F)` of §1.6 uncached: key number → roles, over the closure of `f`. @internal */
export function computeState(nodes: readonly MembershipNode[], f: Frontier): Map<number, number> {
  const out = new Map<number, number>();
  if (f.nodes.length === 0) return out;
  const bits = closureOf(nodes, f);
  // Walk the closure in arrival (topological) order; per key keep the setters no later setter
  // descends from: at the end they are max(Ops_k).
  const setters = new Map<number, number[]>();
  const setRoles = new Map<number, number[]>();
  for (let w = 0; w < bits.length; w++) {
    for (let word = bits[w]!; word !== 0; word &= word - 1) {
      const n = (w << 5) + (31 - Math.clz32(word & -word));
      const node = nodes[n]!;
      for (let i = 0; i < node.opKeys.length; i++) {
        const k = node.opKeys[i]!;
        const s = setters.get(k);
        const r = setRoles.get(k);
        if (s === undefined || r === undefined) {
          setters.set(k, [n]);
          setRoles.set(k, [node.opRoles[i]!]);
          continue;
        }
        let j = 0;
        for (let x = 0; x < s.length; x++) {
          if (isAnc(nodes, s[x]!, n)) continue;
          s[j] = s[x]!;
          r[j++] = r[x]!;
        }
        s.length = j;
        r.length = j;
        s.push(n);
        r.push(node.opRoles[i]!);
      }
    }
  }
  for (const [k, r] of setRoles) out.set(k, r.reduce((a, b) => a & b, 7));
  return out;
}
