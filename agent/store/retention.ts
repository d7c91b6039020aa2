/**
 * The prune planner of docs/design/v2-scopes.md §4.2 with the horizon of §4.3, over an abstract
 * {@link RetentionView} of one scope's store. Pure: it reads the view and returns a
 * {@link RetentionPlan}; the store applies it (drops the handles, writes the horizon), then
 * {@link RetentionTotals.apply} updates the running totals. The clock is the `nowS` parameter.
 */
import { CommandKind, HORIZON_TARGET, type CommandKindValue } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { HorizonEntry, HorizonSet } from './horizon.js';
import type { RetentionLimits } from './retention-policy.js';

/**
 * What the planner reads of a scope's store. Handles are dense from 0 (the genesis), never
 * renumbered; a pruned command keeps its handle. `appendedAtS` MUST be non-decreasing in handle
 * order (the store clamps a clock that stepped back), so the oldest counted command is the one
 * with the smallest handle. Everything retained below `base` is pinned: membership commands and
 * the data commands listed by `pinnedHeads`. `F` is the frontier type of {@link HorizonEntry}.
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

/** Ascending retained data handles: the pinned heads, then `base` upward; each call the next, −1 at the end. */
function candidates(view: RetentionView<unknown>): () => number {
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

/**
 * Running totals of the *counted* commands (retained data commands that are not heads, §4.1),
 * so that "is a bound exceeded" is O(1) and a plan costs nothing when nothing needs pruning.
 * Every command is a head when appended; it starts counting when it stops being one.
 */
export class RetentionTotals {
  private n = 0;
  private b = 0;
  private o = 0;
  private oldest = Infinity;
  /** Counted commands. */
  get commands(): number { return this.n; }
  /** Sum of their encodings. */
  get bytes(): number { return this.b; }
  /** How many of them are own commands (protected or not). */
  get own(): number { return this.o; }
  /** The oldest one's `appendedAtS`; Infinity when none counts. */
  get oldestS(): number { return this.oldest; }

  /** Totals of a store as it is (on open): one pass over the retained data commands. */
  static fromView(view: RetentionView<unknown>): RetentionTotals {
    const t = new RetentionTotals();
    const next = candidates(view);
    for (let h = next(); h >= 0; h = next()) if (!view.isHead(h)) t.retire(view, h);
    return t;
  }

  /** Retained command `h` stopped being a head (a command naming it was appended). Non-data: ignored. */
  retire(view: RetentionView<unknown>, h: number): void {
    if (view.kind(h) !== CommandKind.Data || !view.isRetained(h)) return;
    this.n++;
    this.b += view.lengthOf(h);
    if (view.isOwn(h)) this.o++;
    this.oldest = Math.min(this.oldest, view.appendedAtS(h));
  }

  /** The store applied `plan` (call it before anything else is appended). */
  apply(plan: RetentionPlan<unknown>): void {
    this.n -= plan.prunedTotals.commands;
    this.b -= plan.prunedTotals.bytes;
    this.o -= plan.prunedTotals.own;
    this.oldest = this.n === 0 ? Infinity : plan.oldestAfterS;
  }

  /** Whether a bound of `limits` is exceeded at `nowS` (§4.1). O(1). */
  exceeded(limits: RetentionLimits, nowS: number): boolean {
    return this.n > limits.commands || this.b > limits.bytes || nowS - this.oldest > limits.ageS;
  }
}

/** Why a run stopped: within bounds, no candidate left, a protected command, the horizon target. */
export type StopReason = 'within' | 'exhausted' | 'protected' | 'horizon';

/** Amounts beyond each bound after a plan (0 on an axis within it); status `retention.overBy`. */
export interface OverBy {
  readonly commands: number;
  readonly bytes: number;
  readonly ageS: number;
}

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

/**
 * The outcome of one run of §4.2. Valid for the view it was computed on: apply it at once. With
 * `F` = the ids of membership commands it is the store's `PrunePlan` (prune, horizon, pinnedHeads).
 */
export interface RetentionPlan<F = number> {
  /** Handles to prune, ascending. */
  readonly prune: readonly number[];
  /** Heads this run reached and kept, ascending (pinned when below `base`). */
  readonly keptHeads: readonly number[];
  /** §5.3 base after the plan. */
  readonly base: number;
  /** Every retained data command below `base` after the plan, ascending (horizon.bin `pinned_heads`). */
  readonly pinnedHeads: readonly number[];
  /** The horizon after the plan: the input set itself when the run pruned nothing. */
  readonly horizonSet: HorizonSet<F>;
  /** The entries of `horizonSet` (listed on first read). */
  readonly horizon: readonly HorizonEntry<F>[];
  readonly stop: StopReason;
  readonly overBy: OverBy;
  /**
   * The own protected commands alone number more than the command bound: pruning cannot
   * bring the scope within it until a peer holds them, so a commit path may refuse.
   */
  readonly ownAloneExceed: boolean;
  /** What `prune` removes from the totals. */
  readonly prunedTotals: { readonly commands: number; readonly bytes: number; readonly own: number };
  /** `appendedAtS` of the oldest counted command after the plan (Infinity: none). */
  readonly oldestAfterS: number;
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
