/**
 * How the v2 device answers a `PollRequest` for one scope from its ring (design §4.5, §7 item 5):
 *
 * 1. K: the requester's named ids (heads and sample) that the device retains or has in its horizon.
 * 2. M: retained commands (ring and membership commands, in append order) that are not an
 *    ancestor-or-equal of a named id. Parents always precede their children in append order (a
 *    command is stored only once its parents resolve), so one pass newest to oldest marks exactly
 *    the ancestors; what is named is also held by the peer (the ring may overwrite it).
 * 3. Window n > 0 and more than n data commands in M: T = M's membership commands and its last n
 *    data commands, `cut`. 4. gap = cut, or a non-empty horizon and an empty K.
 * 5. Items: before each command of T, a horizon record for each parent (ascending) that is not in
 *    T, not a membership command, not named, and has no record yet — from the ring or the horizon
 *    table (a parent the full table dropped gets none: the stated limitation of §7 item 6).
 * 6. The longest prefix that fits the budget exactly; heads give way to the first item.
 * 7. No continuation cursor: every answer is recomputed from the ring. The cursor of §4.5 step 7
 *    saves a host with a long log from walking it again per answer; here the walk covers a
 *    bounded ring (at most 1,024 + 16 entries, 64 by default) and one answer carries at most a
 *    small frame, so recomputing is cheap, and a cursor would be per-peer state for no gain.
 *    Recomputing stays correct and makes progress because the requester's next poll names what
 *    it got (its new heads, and the records of the round as pending ids, §4.6): K covers them, so
 *    L starts past them and needs no record again. `gap` may then repeat within a round; the
 *    requester counts at most one gap per round.
 * Mark buffers are allocated at construction.
 */
import { ListFit } from '../../protocol/budget.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { encodeHorizonRecord } from '../../protocol/horizon-record.js';
import type { PollRequest, PollResponse } from '../../protocol/messages-v2.js';
import { MAX_HEADS } from '../../protocol/constants.js';
import type { DeviceScope } from './scope-v2.js';
import { MEMBERSHIP_SLOTS } from './types-v2.js';
import { sameId, type ScopeRingV2 } from './scope-ring-v2.js';

/** An entry of the merged append order: which store, which position. */
interface At { ring: ScopeRingV2; i: number; member: boolean }

/** Answers polls for any of the device's scopes. */
export class ResponderV2 {
  private readonly known: Uint8Array;

  /** @param maxRing the largest ring of the device's scopes. */
  constructor(maxRing: number) {
    this.known = new Uint8Array(maxRing + MEMBERSHIP_SLOTS);
  }

  /**
   * The answer to `req` for `scope`, addressed to the requester's number `peerNumber`, within
   * `limit` bytes (the requester's `max_bytes` lowered to the frame limits by the caller).
   */
  answer(scope: DeviceScope, req: PollRequest, peerNumber: number, limit: number, nextPollMs: number): PollResponse {
    const q = [...req.heads, ...req.sample];
    const named = (id: Uint8Array): boolean => q.some((x) => sameId(x, id));
    const { order, anyK } = this.mark(scope, q);
    const known = this.known;
    let m = order.filter((_, k) => known[k] === 0);
    const data = m.filter((a) => !a.member).length;
    const cut = req.window > 0 && data > req.window;
    if (cut) {
      let skip = data - req.window;
      m = m.filter((a) => a.member || skip-- <= 0);
    }
    const gap = cut || (scope.horizon.count > 0 && !anyK);
    const items = this.items(scope, m, named);
    const res: PollResponse = {
      type: 'PollResponse', scope: peerNumber, session: req.session, more: false, gap, total: scope.total,
      next_poll_ms: nextPollMs, heads: scope.heads(MAX_HEADS), items: [],
    };
    let fit = new ListFit(encodeMessageV2(res).length - 1, limit);
    const first = items[0];
    if (first !== undefined && !fit.fits(first.length)) {
      res.heads = [];
      fit = new ListFit(encodeMessageV2(res).length - 1, limit);
    }
    let n = 0;
    while (n < items.length && fit.take(items[n]!.length)) n++;
    res.items = items.slice(0, n);
    res.more = n < items.length;
    return res;
  }

  /**
   * The retained commands of `scope` (copies of their encodings, in causal order) that are not an
   * ancestor-or-equal of one of `ids` (§11.4 step 1): what a subscriber whose known ids are `ids`
   * lacks. Unknown ids are ignored.
   */
  missing(scope: DeviceScope, ids: readonly Uint8Array[]): Uint8Array[] {
    const { order } = this.mark(scope, ids);
    const out: Uint8Array[] = [];
    order.forEach((a, k) => {
      if (this.known[k] === 0) out.push(Uint8Array.from(a.ring.bytesAt(a.i)));
    });
    return out;
  }

  /** §4.5 step 1: marks in `known` the retained commands that are ancestors-or-equal of `q`. */
  private mark(scope: DeviceScope, q: readonly Uint8Array[]): { order: At[]; anyK: boolean } {
    const named = (id: Uint8Array): boolean => q.some((x) => sameId(x, id));
    const order = this.merged(scope);
    const known = this.known;
    known.fill(0, 0, order.length);
    const posOf = (id: Uint8Array): number => order.findIndex((a) => sameId(a.ring.idAt(a.i), id));
    // Membership ancestors are decided on the membership DAG (§1.6): a ring walk cannot see them
    // past an evicted command.
    const g = scope.graph;
    const markMembership = (frontier: readonly Uint8Array[]): void => {
      order.forEach((a, j) => {
        const id = a.ring.idAt(a.i);
        if (a.member && frontier.some((f) => sameId(f, id) || (g !== null && g.isAncestor(id, f)))) known[j] = 1;
      });
    };
    let anyK = false;
    for (const id of q) {
      const h = scope.horizon.indexOf(id);
      if (h < 0) continue;
      anyK = true;
      markMembership(scope.frontierIds(scope.horizon.frontierAt(h)));
    }
    for (let k = order.length - 1; k >= 0; k--) {
      const a = order[k]!;
      if (known[k] === 0 && named(a.ring.idAt(a.i))) {
        known[k] = 1;
        anyK = true;
      }
      if (known[k] === 0) continue;
      if (a.member) markMembership([a.ring.idAt(a.i)]);
      else {
        a.ring.markHeld(a.i);
        markMembership(scope.frontierIds(a.ring.frontierAt(a.i)));
      }
      a.ring.forEachParent(a.i, (p) => {
        const j = posOf(p);
        if (j >= 0) known[j] = 1;
      });
    }
    return { order, anyK };
  }

  /** Retained commands of `scope` in append order. */
  private merged(scope: DeviceScope): At[] {
    const out: At[] = [];
    for (let i = 0; i < scope.ring.count; i++) out.push({ ring: scope.ring, i, member: false });
    for (let i = 0; i < scope.members.count; i++) out.push({ ring: scope.members, i, member: true });
    return out.sort((a, b) => a.ring.orderAt(a.i) - b.ring.orderAt(b.i));
  }

  /** §4.5 step 5: the list L of items for T (copies). */
  private items(scope: DeviceScope, t: At[], named: (id: Uint8Array) => boolean): Uint8Array[] {
    const out: Uint8Array[] = [];
    const recorded: Uint8Array[] = [];
    const inT = (id: Uint8Array): boolean => t.some((a) => sameId(a.ring.idAt(a.i), id));
    for (const a of t) {
      a.ring.forEachParent(a.i, (p) => {
        if (inT(p) || scope.members.indexOf(p) >= 0 || named(p) || recorded.some((r) => sameId(r, p))) return;
        const rec = scope.record(p);
        if (rec === null) return;
        recorded.push(rec.id);
        out.push(encodeHorizonRecord(rec));
      });
      out.push(Uint8Array.from(a.ring.bytesAt(a.i)));
    }
    return out;
  }
}

