/**
 * What the §4.2 prune planner (`planRetention`, retention.ts) and the running `RetentionTotals` read
 * of one scope's store, and the ascending walk over its retained data commands both make.
 */
import { CommandKind, type CommandKindValue } from '../../protocol/constants-v2.js';

/**
 * What the planner reads of a scope's store. Handles are dense from 0 (the genesis), never
 * renumbered; a pruned command keeps its handle. `appendedAtS` MUST be non-decreasing in handle
 * order (the store clamps a clock that stepped back), so the oldest counted command is the one
 * with the smallest handle. Everything retained below `base` is pinned: membership commands and
 * the data commands listed by `pinnedHeads`. `F` is the frontier type of `HorizonEntry` (horizon.ts).
 */
export interface RetentionView<F = number> {
  /** Handles in use: 0 .. size − 1. */
  readonly size: number;
  /** §5.3: the smallest retained handle that is not pinned (`size` when none). */
  readonly base: number;
  /** The retained data commands below `base` (heads an earlier run kept), ascending. */
  pinnedHeads(): readonly number[];
  isRetained(h: number): boolean;
  kind(h: number): CommandKindValue;
  /** Ids of all of `h`'s parents, held or not (an adopted horizon entry has no handle). */
  parentIdsOf(h: number): readonly Uint8Array[];
  /** Commands held (retained or pruned) that name `h` as a parent: 0 iff `h` is a head. */
  childCountOf(h: number): number;
  isHead(h: number): boolean;
  /** Bytes of `h`'s encoding (what the byte bound sums). */
  lengthOf(h: number): number;
  /** This host's clock, in seconds, when it appended `h`. */
  appendedAtS(h: number): number;
  /** Authored by this host's own key. */
  isOwn(h: number): boolean;
  depthOf(h: number): number;
  /** `F(h)`, as the horizon entries should carry it. */
  frontierOf(h: number): F;
  idOf(h: number): Uint8Array;
}

/**
 * Ascending retained data handles: the pinned heads, then `base` upward; each call the next, −1 at
 * the end. @internal shared by the planner and the totals
 */
export function candidates(view: RetentionView<unknown>): () => number {
  const pinned = view.pinnedHeads();
  const data = (x: number): boolean => view.isRetained(x) && view.kind(x) === CommandKind.Data;
  let i = 0;
  let h = view.base;
  return () => {
    while (i < pinned.length) {
      const p = pinned[i++]!;
      if (data(p)) return p;
    }
    while (h < view.size) if (data(h++)) return h - 1;
    return -1;
  };
}
