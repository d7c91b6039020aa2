/**
 * The prune planner of docs/design/v2-scopes.md §4.2 with the horizon of §4.3, over an abstract
 * {@link RetentionView} of one scope's store. Pure: it reads the view and returns a
 * {@link RetentionPlan}; the store applies it (drops the handles, writes the horizon), then
 * {@link RetentionTotals.apply} updates the running totals. The clock is the `nowS` parameter.
 */
import { CommandKind, HORIZON_TARGET } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { HorizonEntry, HorizonSet } from './horizon.js';
import type { RetentionLimits } from './retention-policy.js';
import type { OverBy, RetentionPlan, StopReason } from './retention-plan.js';
import type { RetentionTotals } from './retention-totals.js';
import { candidates, type RetentionView } from './retention-view.js';

export { RetentionTotals } from './retention-totals.js';
export type { OverBy, RetentionPlan, StopReason } from './retention-plan.js';
export type { RetentionView } from './retention-view.js';

/** Inputs of {@link planRetention}. */
export interface PlanInput<F = number> {
  readonly view: RetentionView<F>;
  readonly limits: RetentionLimits;
  /** The host's clock, seconds (same clock as `appendedAtS`). */
  readonly nowS: number;
  /** §4.2: own commands with a handle ≥ this are protected. */
  readonly heldFloor: number;
  /** The current horizon; never modified (the plan carries a new set when it changes). */
  readonly horizon: HorizonSet<F>;
  /** The running totals, consistent with `view`. */
  readonly totals: RetentionTotals;
  /** The HORIZON_TARGET of §4.2 (default {@link HORIZON_TARGET}; tests lower it). */
  readonly horizonTarget?: number;
}

const ZERO: OverBy = Object.freeze({ commands: 0, bytes: 0, ageS: 0 });

/**
 * One run of §4.2: while a bound is exceeded, take the retained data command with the smallest
 * handle not yet kept; keep it if it is a head; stop at a protected own command, or when pruning
 * it would make the horizon larger than max(horizonTarget, its size at the start); else prune it.
 * O(1) when no bound is exceeded; otherwise linear in the candidates it passes.
 */
export function planRetention<F>(input: PlanInput<F>): RetentionPlan<F> {
  const { view, limits, nowS, heldFloor, horizon, totals } = input;
  let changed: HorizonSet<F> | undefined; // a copy of `horizon`, made at the first prune
  let entries: HorizonEntry<F>[] | undefined;
  const listed = (): HorizonEntry<F>[] => (entries ??= (changed ?? horizon).entries());
  if (!totals.exceeded(limits, nowS)) {
    return {
      prune: [], keptHeads: [], base: view.base, pinnedHeads: view.pinnedHeads(), horizonSet: horizon, get horizon() { return listed(); },
      stop: 'within', overBy: ZERO, ownAloneExceed: false, prunedTotals: { commands: 0, bytes: 0, own: 0 }, oldestAfterS: totals.oldestS,
    };
  }
  const cap = Math.max(input.horizonTarget ?? HORIZON_TARGET, horizon.size);
  let { commands, bytes, own } = totals;
  const prune: number[] = [];
  const kept: number[] = [];
  const next = candidates(view);
  let stop: StopReason;
  let c: number;
  for (;;) {
    // c: the oldest counted command; the heads before it count for nothing.
    const passed: number[] = [];
    for (c = next(); c >= 0 && view.isHead(c); c = next()) passed.push(c);
    const over = commands > limits.commands || bytes > limits.bytes || (c >= 0 && nowS - view.appendedAtS(c) > limits.ageS);
    if (!over) { stop = 'within'; break; }
    kept.push(...passed);
    if (c < 0) { stop = 'exhausted'; break; }
    if (view.isOwn(c) && c >= heldFloor) { stop = 'protected'; break; }
    const h = changed ?? horizon;
    const parents = view.parentIdsOf(c).map(toHex);
    const leaving = parents.filter((p) => h.refsOf(p) === 1).length;
    const children = view.childCountOf(c);
    if (h.size - leaving + (children > 0 ? 1 : 0) > cap) { stop = 'horizon'; break; }
    changed ??= horizon.clone();
    for (const p of parents) changed.dropRef(p);
    if (children > 0) changed.add({ id: view.idOf(c), depth: view.depthOf(c), frontier: view.frontierOf(c) }, children);
    prune.push(c);
    commands--;
    bytes -= view.lengthOf(c);
    if (view.isOwn(c)) own--;
  }
  const oldestAfterS = c >= 0 ? view.appendedAtS(c) : Infinity;
  return {
    prune, keptHeads: [...kept].sort((a, b) => a - b), ...baseAfter(view, prune, kept),
    horizonSet: changed ?? horizon, get horizon() { return listed(); }, stop,
    overBy: stop === 'within' ? ZERO : {
      commands: Math.max(0, commands - limits.commands), bytes: Math.max(0, bytes - limits.bytes),
      ageS: Math.max(0, nowS - oldestAfterS - limits.ageS),
    },
    ownAloneExceed: commands > limits.commands && ownProtected(view, stop, c, own, heldFloor, next) > limits.commands,
    prunedTotals: { commands: totals.commands - commands, bytes: totals.bytes - bytes, own: totals.own - own },
    oldestAfterS,
  };
}

/** Base and pinned heads after pruning `prune` and keeping `kept` (both taken in handle order). */
function baseAfter(view: RetentionView<unknown>, prune: readonly number[], kept: readonly number[]): { base: number; pinnedHeads: number[] } {
  const gone = new Set(prune);
  const keptSet = new Set(kept);
  let base = view.base;
  while (base < view.size && (!view.isRetained(base) || view.kind(base) !== CommandKind.Data || gone.has(base) || keptSet.has(base))) base++;
  const pinned = view.pinnedHeads().filter((h) => !gone.has(h));
  for (const h of kept) if (h >= view.base && h < base) pinned.push(h);
  return { base, pinnedHeads: pinned.sort((a, b) => a - b) };
}

/**
 * Own protected commands still counted after a run that stopped at `c` with `own` own counted
 * commands left. Everything counted below `c` was pruned, so after a protected stop every own
 * one is protected; after a horizon stop the own ones in [c, heldFloor) are not (a short walk).
 */
function ownProtected(view: RetentionView<unknown>, stop: StopReason, c: number, own: number, heldFloor: number, next: () => number): number {
  if (stop !== 'horizon' || c >= heldFloor) return own;
  let unprotected = 0;
  for (let h = c; h >= 0 && h < heldFloor; h = next()) if (view.isOwn(h) && !view.isHead(h)) unprotected++;
  return own - unprotected;
}
