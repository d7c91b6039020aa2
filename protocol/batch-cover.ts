/**
 * Which commands of a compact batch are authenticated (docs/design/bulk-sync.md §3): a command
 * whose own signature verified, or a covered one (signature `null`) with a verified command of
 * the **same author** later in the batch that has it in its causal past (rules C1, C2). A cover
 * by another author counts for nothing, and a command with an unauthenticated in-batch parent is
 * not authenticated either (it could never be placed). Pure and linear: one backward pass with an
 * author bit mask per command (at most 64 authors, two 32-bit words).
 */
import type { BatchCommand } from './compact-batch.js';

/** Why a command of a batch is not authenticated. */
export type CoverFailure = 'bad-signature' | 'uncovered' | 'parent-failed';

/** The outcome per command, in batch order: null when authenticated. */
export type CoverResult = (CoverFailure | null)[];

/**
 * Decide every command of a batch.
 * @param cmds the decoded batch (compact-batch.ts `decodeBatch`)
 * @param signatureOk for each command that carries a signature, whether it verified under its
 *   author's key (ignored for covered commands)
 */
export function coverBatch(cmds: readonly BatchCommand[], signatureOk: (i: number) => boolean): CoverResult {
  const n = cmds.length;
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  // Backward: a command's mask is the set of authors with a verified command at or after it in
  // its descendants; its parents inherit it.
  for (let k = n - 1; k >= 0; k--) {
    const c = cmds[k]!;
    if (c.signature !== null && signatureOk(k)) setBit(lo, hi, k, c.authorIndex);
    for (const p of c.localParents) {
      lo[p]! |= lo[k]!;
      hi[p]! |= hi[k]!;
    }
  }
  const out: CoverResult = new Array<CoverFailure | null>(n).fill(null);
  for (let k = 0; k < n; k++) {
    const c = cmds[k]!;
    if (c.signature !== null && !signatureOk(k)) out[k] = 'bad-signature';
    else if (!hasBit(lo, hi, k, c.authorIndex)) out[k] = 'uncovered';
    else if (c.localParents.some((p) => out[p] !== null)) out[k] = 'parent-failed';
  }
  return out;
}

function setBit(lo: Uint32Array, hi: Uint32Array, k: number, bit: number): void {
  if (bit < 32) lo[k]! |= 1 << bit;
  else hi[k]! |= 1 << (bit - 32);
}

function hasBit(lo: Uint32Array, hi: Uint32Array, k: number, bit: number): boolean {
  return bit < 32 ? (lo[k]! & (1 << bit)) !== 0 : (hi[k]! & (1 << (bit - 32))) !== 0;
}
