/**
 * Steps 3–4 of the v2 poll answer (docs/design/v2-scopes.md §4.5): the window cut of `M` and
 * whether the answer reports a gap.
 */
import { CommandKind } from '../../protocol/constants-v2.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';

/** Step 3: `T` and `cut`. Membership commands (kinds 1 and 2) of `m` are always kept. */
export function windowOf(reader: ScopeStoreReader, m: ArrayLike<number>, window: number): { t: number[]; cut: boolean } {
  const all = Array.from(m);
  let data = 0;
  for (const h of all) if (reader.kindOf(h) === CommandKind.Data) data++;
  if (window === 0 || data <= window) return { t: all, cut: false };
  let skip = data - window;
  return { t: all.filter((h) => reader.kindOf(h) !== CommandKind.Data || skip-- <= 0), cut: true };
}

/**
 * Step 4: the requester lacks what this host will not send — a cut window, or a requester behind
 * the horizon: this host has a horizon and `k` names no data command or horizon entry. Membership
 * commands of `k` are not counted: every requester names the genesis (its sample ends with it) and
 * they are never pruned, so they say nothing about how far behind it is.
 */
export function gapOf(reader: ScopeStoreReader, cut: boolean, k: readonly Uint8Array[]): boolean {
  if (cut) return true;
  if (reader.horizon().length === 0) return false;
  return !k.some((id) => {
    const h = reader.indexOf(id);
    return h < 0 || reader.kindOf(h) === CommandKind.Data;
  });
}
