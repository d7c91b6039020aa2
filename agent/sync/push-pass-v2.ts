/**
 * One v2 push pass (protocol-v2.md §11.4) over the (peer, scope) table, spread over turns of the
 * event loop as v1's push-pass.ts: each dirty slot has a cursor whose walk (M: the scope's
 * retained commands that are not ancestors-or-equal of a known head, nor below the known floor)
 * advances {@link PUSH_WALK_STEPS_V2} commands a pass and whose frames take at most
 * {@link PUSH_PASS_BYTES_V2} a pass; a pass starts no new slot after `TURN_BUDGET_MS`. A slot whose
 * link is suspended, above its high-water mark, or on which S is not active stays dirty.
 *
 * Known heads advance only when a cursor's whole list is sent (and then to the heads the walk
 * started from, the floor to the store size then), so commands appended meanwhile are found by
 * the next walk. Commands that came from the subscriber or one of its `via` peers are left out
 * but count as known. Pushes carry commands only, never horizon records (§11.4 item 1).
 */
import type { ReasonName } from '../../protocol/errors.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';
import { TURN_BUDGET_MS } from './turn-budget.js';
import { PushPassMemoV2, type SharedWalkV2 } from './push-pass-memo-v2.js';
import { MAX_KNOWN_V2, type SubscriptionTableV2 } from './subscription-table-v2.js';

/** Commands a slot's walk advances per pass. */
export const PUSH_WALK_STEPS_V2 = 2048;
/** Most bytes of pushes one pass sends one slot (after the first frame). */
export const PUSH_PASS_BYTES_V2 = 65536;

/** A subscriber's link as the pass sees it. */
export interface PushLinkV2 {
  /** Unique per link for the engine's lifetime. */
  readonly linkId: number;
  readonly peerId: string;
  /** The peer's key fingerprint (8 bytes, the table key's first part). */
  readonly fingerprint: Uint8Array;
  /** The link is above its high-water mark: push later. */
  readonly blocked: boolean;
  /** Largest message this side may send the peer. */
  readonly sendLimit: number;
  /** The peer announced `BareCommand`. */
  readonly acceptsBare: boolean;
  /** The peer announced `CompactBatch`: pushes of several commands go as a compact batch. */
  readonly acceptsBatch: boolean;
  /** The peer's number for S while S is active on the link, else undefined. */
  theirNumber(scopeId: Uint8Array): number | undefined;
  sendFrame(body: Uint8Array): void;
  sendError(reason: ReasonName, text: string, retryAfterMs: number | null, scope?: number): void;
  /** Commands handed to the link in pushes (stats). */
  pushed(commands: number): void;
}

/** What the pass needs from the pusher. */
export interface PushPassV2Host {
  readonly table: SubscriptionTableV2;
  /** Live links by id. */
  readonly links: ReadonlyMap<number, PushLinkV2>;
  /** The store of the scope with this id, if held. */
  storeOf(scopeId: Uint8Array): ScopeStoreReader | undefined;
  /** Whether `handle` of the slot's scope need not be pushed (it came from the subscriber or a `via` peer). */
  skip(slot: number, handle: number): boolean;
}

interface Cursor {
  /** The walk (shared with the slots that knew the same when it began) and where it started. */
  share: SharedWalkV2;
  /** This slot's list: the walk's retained result less what came from the subscriber or its via. */
  list: number[] | null;
  pos: number;
}

/** Up to `max` handles, deepest first (ties: higher handle first). */
export function deepestHandles(r: ScopeStoreReader, hs: readonly number[], max: number): number[] {
  return [...hs].sort((a, b) => r.depthOf(b) - r.depthOf(a) || b - a).slice(0, max);
}

/** Per-slot push cursors and the pass over dirty slots. */
export class PushPassV2 {
  private readonly cursors = new Map<number, Cursor>();

  constructor(private readonly host: PushPassV2Host) {}

  /** Drop `slot`'s cursor: its known heads changed, its slot was freed, or its link closed. */
  forget(slot: number): void {
    this.cursors.delete(slot);
  }

  /** One pass over dirty slots. Returns true when work is left for another pass. */
  run(): boolean {
    const { table, links } = this.host;
    const start = performance.now();
    // What this pass computes once for all slots (push-pass-memo-v2.ts): scope, walk, frames.
    const memo = new PushPassMemoV2((id) => this.host.storeOf(id));
    let left = false;
    table.forEach((slot) => {
      if (!table.isDirty(slot) || table.isSuspended(slot)) return;
      const link = links.get(table.linkAt(slot));
      const scopeId = table.scopeIdAt(slot);
      const number = link?.theirNumber(scopeId);
      const scope = memo.scope(table.scopeIxAt(slot), scopeId);
      if (link === undefined || link.blocked || number === undefined || scope === null) return; // stays dirty
      if (performance.now() - start >= TURN_BUDGET_MS) return void (left = true);
      let c = this.cursors.get(slot);
      if (c === undefined) this.cursors.set(slot, (c = { share: memo.walk(table.scopeIxAt(slot), scope, table.knownOf(slot), table.knownFloor(slot)), list: null, pos: 0 }));
      const { share } = c;
      const store = share.scope.store;
      if (c.list === null) {
        if (!share.walk.step(PUSH_WALK_STEPS_V2)) return void (left = true);
        const retained = memo.retainedOf(share);
        // The shared list itself when this slot skips nothing: equal lists then share their frames too.
        c.list = retained.some((h) => this.host.skip(slot, h)) ? retained.filter((h) => !this.host.skip(slot, h)) : retained;
      }
      table.takeDirty(slot);
      const step = memo.step(store, c.list, c.pos, { scope: number, budget: table.remainingOf(slot), frameLimit: link.sendLimit, bare: link.acceptsBare, compact: link.acceptsBatch, passBytes: PUSH_PASS_BYTES_V2 });
      for (const f of step.frames) link.sendFrame(f);
      table.charge(slot, step.charged);
      link.pushed(step.end - c.pos);
      c.pos = step.end;
      if (step.held === true) {
        // Held without its signature (PROTOCOL.md §10.7): never pushed. The slot rests until the
        // next append; the subscriber's poll fetches the command in a batch with its cover.
        this.cursors.delete(slot);
        return;
      }
      if (step.exhausted) {
        this.cursors.delete(slot);
        table.remove(slot);
        return link.sendError('BudgetExhausted', 'push budget exhausted; subscribe again', null, number);
      }
      if (c.pos < c.list.length) {
        table.markDirty(slot);
        return void (left = true);
      }
      this.cursors.delete(slot);
      table.setKnown(slot, (share.nextKnown ??= deepestHandles(store, share.scope.from, MAX_KNOWN_V2)), share.scope.size);
      if (store.size !== share.scope.size) {
        table.markDirty(slot); // appended since the walk began: the next pass finds them
        left = true;
      }
    });
    return left;
  }
}
