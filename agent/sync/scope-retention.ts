/**
 * Retention of one hosted scope (docs/design/v2-scopes.md §4.1–§4.3): the bookkeeping the prune
 * planner (`agent/store/retention.ts`) reads beside a {@link ScopeStore} — child counts per
 * handle, the running {@link RetentionTotals}, the horizon with its referrer counts, the pinned
 * heads — kept up to date on append and prune, plus `heldFloor` (§4.2) and the count of own
 * commands no peer is known to hold (the Q-3 refusal, §11.1).
 *
 * Costs: 4 bytes per retained handle for the child counts, windowed like the store's index
 * (§5.3): a dense array for the handles from `from` on (count of h at h − from) and a Map for the
 * retained handles below it (pinned heads, membership commands) that have children. When the
 * base has advanced past `from` by a quarter of the array, the counts below base move to the Map
 * (or are dropped: pruned) and the array is shifted, O(1) amortised per pruned command, so a
 * bounded scope's counts stay O(bound) however long it runs. The horizon's referrer counts are built only
 * when a run first has something to prune (one decode per retained command), so a scope kept
 * forever never pays for them; after that each appended command is decoded once for its parent ids.
 */
import { decodeStoredCommandV2 } from '../../protocol/command-v2.js';
import { compareBytes } from '../../protocol/command.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import { HorizonSet } from '../store/horizon.js';
import { planRetention, RetentionTotals, type RetentionPlan, type RetentionView } from '../store/retention.js';
import type { RetentionLimits } from '../store/retention-policy.js';
import type { ScopeStore } from '../store/scope-store-contract.js';
import type { ScopeMembership } from './scope-membership.js';

/** Smallest dense child-count array, and the least base advance that shifts it. */
const MIN_WINDOW = 16;

/** What {@link ScopeRetention} works on. */
export interface ScopeRetentionOptions {
  store: ScopeStore;
  membership: ScopeMembership;
  limits: RetentionLimits;
  /** This host's author fingerprint (own commands are protected, §4.2). */
  ownAuthor: Uint8Array;
  /** Clock, seconds (the store's `appendedAtS` clock). */
  nowS: () => number;
  /** HORIZON_TARGET override (tests). */
  horizonTarget?: number;
}

/** Retention state of one scope; the host calls {@link appended} for every append and {@link run} to prune. */
export class ScopeRetention {
  /** §4.2: own commands with a handle below this are known to be held by a peer. 0 after open (nothing known). */
  heldFloor = 0;
  /** Outcome of the last run that had something to do (status `retention.overBy`). */
  lastPlan: RetentionPlan<Uint8Array[]> | null = null;
  /** Child counts of handles `from`..: children[h − from]. */
  private children = new Uint32Array(MIN_WINDOW);
  /** First handle of the dense child counts (the base when they were last shifted). */
  private from: number;
  /** Non-zero child counts of retained handles below `from`; null while there are none. */
  private lowChildren: Map<number, number> | null = null;
  private readonly totals: RetentionTotals;
  private horizonSet: HorizonSet<Uint8Array[]> | null = null;
  private pinned: number[] = [];
  private readonly view: RetentionView<Uint8Array[]>;

  constructor(private readonly o: ScopeRetentionOptions) {
    const s = o.store;
    this.from = s.base;
    this.view = {
      get size() { return s.size; },
      get base() { return s.base; },
      pinnedHeads: () => this.pinned,
      isRetained: (h) => s.isRetained(h),
      kind: (h) => s.kindOf(h),
      parentIdsOf: (h) => this.parentIds(h),
      childCountOf: (h) => this.childCount(h),
      isHead: (h) => this.childCount(h) === 0,
      lengthOf: (h) => s.lengthOf(h),
      appendedAtS: (h) => s.appendedAtS(h),
      isOwn: (h) => compareBytes(s.authorOf(h).author, o.ownAuthor) === 0,
      depthOf: (h) => s.depthOf(h),
      frontierOf: (h) => o.membership.idsOf(o.membership.frontierRef(s, h)),
      idOf: (h) => s.idOf(h),
    };
    for (let h = 0; h < s.base; h++) if (s.isRetained(h) && s.kindOf(h) === CommandKind.Data) this.pinned.push(h);
    for (const h of this.retained()) this.count(h, false);
    this.totals = RetentionTotals.fromView(this.view);
  }

  /** The bounds in force. */
  get limits(): RetentionLimits {
    return this.o.limits;
  }

  /** Record an appended handle: its retained parents stop being heads, its horizon parents gain a referrer. */
  appended(h: number): void {
    this.count(h, true);
    if (this.horizonSet === null) return;
    for (const p of this.parentIds(h)) {
      if (this.o.store.indexOf(p) >= 0 || this.horizonSet.addRef(p)) continue;
      const e = this.o.store.horizonEntry(p); // adopted with this command (§4.6)
      if (e !== undefined) this.horizonSet.add(e, 1);
    }
  }

  /** §4.2: an answer's M started at `floor` (or M was empty and `floor` is the size): raise, never lower. */
  raiseHeldFloor(floor: number): void {
    if (floor > this.heldFloor) this.heldFloor = floor;
  }

  /** Own retained data commands at or above `heldFloor` (heads included): what no peer is known to hold. */
  ownUnacknowledged(): number {
    const s = this.o.store;
    let n = 0;
    for (const h of this.pinned) if (h >= this.heldFloor && this.view.isOwn(h)) n++;
    for (let h = Math.max(this.heldFloor, s.base); h < s.size; h++) if (s.kindOf(h) === CommandKind.Data && this.view.isOwn(h)) n++;
    return n;
  }

  /**
   * One run of §4.2 at the current clock, applied to the store at once (the plan, the totals,
   * the horizon and the pinned heads change together, with no await in between, so appends that
   * interleave with the disk write see a consistent state). Null when no bound is exceeded.
   */
  async run(): Promise<RetentionPlan<Uint8Array[]> | null> {
    const nowS = this.o.nowS();
    if (!this.totals.exceeded(this.o.limits, nowS)) return null;
    const horizon = (this.horizonSet ??= this.buildHorizon());
    const plan = planRetention({ view: this.view, limits: this.o.limits, nowS, heldFloor: this.heldFloor, horizon, totals: this.totals, ...(this.o.horizonTarget === undefined ? {} : { horizonTarget: this.o.horizonTarget }) });
    this.lastPlan = plan;
    if (plan.prune.length === 0) return plan;
    const applied = this.o.store.prune(plan);
    this.totals.apply(plan);
    this.horizonSet = plan.horizonSet;
    this.pinned = [...plan.pinnedHeads];
    if (this.o.store.base - this.from >= Math.max(MIN_WINDOW, this.children.length / 4)) this.shift();
    await applied;
    return plan;
  }

  /** Retained handles, ascending: the pinned ones below base, then base upward (membership included). */
  private *retained(): Generator<number> {
    const s = this.o.store;
    for (let h = 0; h < s.base; h++) if (s.isRetained(h)) yield h;
    for (let h = s.base; h < s.size; h++) yield h;
  }

  /** Retained children of `h`, a retained handle (what a pruned handle gives means nothing). */
  childCount(h: number): number {
    return h >= this.from ? (this.children[h - this.from] ?? 0) : (this.lowChildren?.get(h) ?? 0);
  }

  private count(h: number, retire: boolean): void {
    const at = h - this.from;
    if (at >= this.children.length) {
      const next = new Uint32Array(Math.max(this.children.length * 2, at + 1));
      next.set(this.children);
      this.children = next;
    }
    for (const p of this.o.store.parentsOf(h)) {
      const n = this.childCount(p);
      if (p >= this.from) this.children[p - this.from] = n + 1;
      else (this.lowChildren ??= new Map()).set(p, n + 1);
      if (n === 0 && retire) this.totals.retire(this.view, p);
    }
  }

  /**
   * Move the dense window to start at the store's base: counts of retained handles below it go
   * to `lowChildren`, pruned ones are dropped; the array keeps room for half as many again as
   * the handles from base to size.
   */
  private shift(): void {
    const s = this.o.store;
    const base = s.base;
    const old = this.children;
    for (let h = this.from; h < base; h++) {
      const n = old[h - this.from] ?? 0;
      if (n > 0 && s.isRetained(h)) (this.lowChildren ??= new Map()).set(h, n);
    }
    if (this.lowChildren !== null) {
      for (const h of this.lowChildren.keys()) if (!s.isRetained(h)) this.lowChildren.delete(h);
      if (this.lowChildren.size === 0) this.lowChildren = null;
    }
    const keep = Math.max(0, Math.min(old.length, s.size - this.from) - (base - this.from));
    const next = new Uint32Array(Math.max(MIN_WINDOW, Math.ceil((s.size - base) * 1.5)));
    next.set(old.subarray(base - this.from, base - this.from + keep));
    this.children = next;
    this.from = base;
  }

  /** Length of the dense child-count array and entries below it (memory checks in tests). @internal */
  get childSlots(): { dense: number; low: number } {
    return { dense: this.children.length, low: this.lowChildren?.size ?? 0 };
  }

  private parentIds(h: number): Uint8Array[] {
    return decodeStoredCommandV2(this.o.store.bytesOf(h), this.o.store.idOf(h)).parents;
  }

  /** Referrer counts of the store's horizon entries: the retained commands naming each. */
  private buildHorizon(): HorizonSet<Uint8Array[]> {
    const entries = this.o.store.horizon();
    const refs = new Map<string, number>(entries.map((e) => [toHex(e.id), 0]));
    if (entries.length > 0) {
      for (const h of this.retained()) {
        for (const p of this.parentIds(h)) {
          const k = toHex(p);
          const n = refs.get(k);
          if (n !== undefined) refs.set(k, n + 1);
        }
      }
    }
    // An entry no retained command names should not exist; one referrer keeps it until pruning settles it.
    return HorizonSet.of(entries.map((entry) => ({ entry, refs: Math.max(1, refs.get(toHex(entry.id)) ?? 0) })));
  }
}
