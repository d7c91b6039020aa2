/**
 * What one v2 push pass (push-pass-v2.ts) computes once for all the slots it serves, instead of
 * once per slot: a fan-out of one commit to 128 subscribers of a scope found the scope's store,
 * its heads, the same graph walk and the same push frames 128 times (issue 16: the pass was most
 * of the publisher's share of `fanout_128`).
 *
 * - per scope: its store, heads and size as the pass found them;
 * - per (scope, known heads, floor): one {@link SharedWalkV2}, so subscribers that are equally up
 *   to date share one walk — cursors keep it across passes, the index only this pass — and, per
 *   pass, its result less pruned commands;
 * - per (list, position, number, budget, frame limit, bare, compact): one {@link PushStepV2} — its frames
 *   depend on nothing else (pushStepV2 is pure), so subscribers whose budgets stand equal (the
 *   usual case: same `max_bytes`, same pushes charged) receive the same encoded bodies, each
 *   sealed for its own link by the session.
 *
 * A memo lives for one synchronous pass: nothing in it can go stale while it is used.
 */
import type { CommandStore } from '../store/command-store.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';
import { MissingWalk } from './graph-walk.js';
import { pushStepV2, type PushSource, type PushStepV2 } from './push-frames-v2.js';

/** A scope as one pass sees it. */
export interface PassScopeV2 {
  readonly store: ScopeStoreReader;
  /** The store's heads when the pass first looked (the walks start there). */
  readonly from: number[];
  /** The store's size then (the floor a completed push advances to). */
  readonly size: number;
}

/** One walk from a scope's heads down to a set of known heads, shared by every slot that knows exactly those. */
export interface SharedWalkV2 {
  readonly scope: PassScopeV2;
  readonly walk: MissingWalk;
  /** `deepestHandles(from)`, the known heads every slot of this walk advances to, once asked. */
  nextKnown: number[] | null;
}

/** Options of one push step, as pushStepV2 takes them. */
export interface StepOptionsV2 {
  scope: number;
  budget: number;
  frameLimit: number;
  bare: boolean;
  compact: boolean;
  passBytes: number;
}

/** The memo of one pass. */
export class PushPassMemoV2 {
  private readonly scopes = new Map<number, PassScopeV2 | null>();
  private readonly walks = new Map<string, SharedWalkV2>();
  private readonly retained = new Map<SharedWalkV2, number[]>();
  private readonly listIds = new Map<readonly number[], number>();
  private readonly steps = new Map<string, PushStepV2>();

  constructor(private readonly storeOf: (scopeId: Uint8Array) => ScopeStoreReader | undefined) {}

  /** Scope index `ix` (id `scopeId`) this pass; null when the store is not held. */
  scope(ix: number, scopeId: Uint8Array): PassScopeV2 | null {
    let s = this.scopes.get(ix);
    if (s === undefined) {
      const store = this.storeOf(scopeId);
      s = store === undefined ? null : { store, from: store.heads(), size: store.size };
      this.scopes.set(ix, s);
    }
    return s;
  }

  /** The walk of scope `ix` for a slot that knows `known` and everything below `floor`. */
  walk(ix: number, scope: PassScopeV2, known: readonly number[], floor: number): SharedWalkV2 {
    // Known heads are kept in a canonical order (deepest first), so equal knowledge gives one key.
    const key = `${ix}/${floor}/${known.join(',')}`;
    let w = this.walks.get(key);
    if (w === undefined) {
      // Why the cast: MissingWalk is typed over the v1 store but reads only heads, depthOf and parentsOf.
      const walk = new MissingWalk(scope.store as unknown as CommandStore, known, scope.from, floor);
      this.walks.set(key, (w = { scope, walk, nextKnown: null }));
    }
    return w;
  }

  /**
   * The result of the done walk `w` less what is pruned now (before any slot's own skips), once
   * per pass: a walk shared across passes may see pruning in between.
   */
  retainedOf(w: SharedWalkV2): number[] {
    let r = this.retained.get(w);
    if (r === undefined) {
      const store = w.scope.store;
      this.retained.set(w, (r = Array.from(w.walk.result()).filter((h) => store.isRetained(h))));
    }
    return r;
  }

  /** pushStepV2 of `todo[from..]`, computed once per distinct input this pass. */
  step(src: PushSource, todo: readonly number[], from: number, o: StepOptionsV2): PushStepV2 {
    let id = this.listIds.get(todo);
    if (id === undefined) this.listIds.set(todo, (id = this.listIds.size));
    const key = `${id}/${from}/${o.scope}/${o.budget}/${o.frameLimit}/${o.bare ? 1 : 0}/${o.compact ? 1 : 0}/${o.passBytes}`;
    let s = this.steps.get(key);
    if (s === undefined) this.steps.set(key, (s = pushStepV2(src, todo, from, o)));
    return s;
  }
}
