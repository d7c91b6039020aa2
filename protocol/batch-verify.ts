/**
 * Which signatures of a compact batch a receiver verifies (PROTOCOL.md §10.7, design bulk-sync §3):
 * only those no later command of the same author has in its causal past — each author's *covers*.
 * Every other command of the author is then authenticated by cover (C1, C2) whether or not it
 * carries a signature, so its own signature need not be checked. Pure: the caller verifies the
 * planned signatures (on the thread pool) and hands the verdicts to {@link coverOutcome}.
 */
import { coverBatch, type CoverResult } from './batch-cover.js';
import type { BatchCommand } from './compact-batch.js';

/**
 * Indices (ascending) of the commands whose own signature must be verified: those that carry a
 * signature and that no later command of the same author has in its in-batch causal past. Linear:
 * one backward pass with an author bit mask per command (the mask of k: the authors of k's
 * in-batch descendants, k excluded).
 */
export function planVerify(cmds: readonly BatchCommand[]): number[] {
  const n = cmds.length;
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  const out: number[] = [];
  for (let k = n - 1; k >= 0; k--) {
    const c = cmds[k]!;
    const a = c.authorIndex;
    const covered = a < 32 ? (lo[k]! & (1 << a)) !== 0 : (hi[k]! & (1 << (a - 32))) !== 0;
    if (!covered && c.signature !== null) out.push(k);
    // k's own author joins the mask its parents inherit.
    const l = lo[k]! | (a < 32 ? 1 << a : 0);
    const h = hi[k]! | (a >= 32 ? 1 << (a - 32) : 0);
    for (const p of c.localParents) {
      lo[p]! |= l;
      hi[p]! |= h;
    }
  }
  return out.reverse();
}

/**
 * The verdict per command once the planned signatures were verified: null when authenticated
 * (its own planned signature verified, or covered by a verified same-author descendant), else why
 * not. A signature that was not planned is not trusted either way: the command counts as covered
 * (signature ignored), so a bad signature the plan skipped cannot make it fail, and a good one
 * cannot make it pass on its own.
 * @param verified the verdict of each planned index (a missing index counts as failed)
 */
export function coverOutcome(cmds: readonly BatchCommand[], verified: ReadonlyMap<number, boolean>): CoverResult {
  const view = cmds.map((c, k) => (c.signature !== null && !verified.has(k) ? { ...c, signature: null } : c));
  return coverBatch(view, (k) => verified.get(k) === true);
}
