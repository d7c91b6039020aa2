/**
 * The bounded cache of `state(F)` (design v2-scopes §1.6) of one membership graph: the state is
 * kept on the frontier object itself, and the least recently used frontier gives it up once more
 * than `size` hold one.
 */
import type { Frontier, MembershipState } from './membership-types.js';

/** An LRU of frontier states. @internal owned by `MembershipGraph` */
export class MembershipStateCache {
  private readonly lru = new Set<Frontier>();

  /** `size`: frontiers whose state is kept, at least 1. */
  constructor(private readonly size: number) {}

  /** The state of `f`, from the cache or made by `make` (and cached). */
  get(f: Frontier, make: () => MembershipState): MembershipState {
    const hit = f.cachedState;
    if (hit !== undefined) {
      this.lru.delete(f);
      this.lru.add(f);
      return hit;
    }
    const s = make();
    f.cachedState = s;
    this.lru.add(f);
    if (this.lru.size > this.size) {
      const oldest = this.lru.values().next().value as Frontier; // non-empty: size > cap ≥ 1
      this.lru.delete(oldest);
      oldest.cachedState = undefined;
    }
    return s;
  }
}
