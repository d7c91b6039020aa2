/**
 * The push pass, spread over turns of the event loop. A subscriber whose known heads are far
 * behind (a `Subscribe` naming nothing the agent holds makes its pending work the whole graph)
 * would otherwise cost one pass a graph walk and a megabyte of encoding. Each subscriber has a
 * cursor instead: its walk advances {@link PUSH_WALK_STEPS} commands a pass, its frames at most
 * {@link PUSH_PASS_BYTES} a pass, and a pass stops starting new subscribers after
 * `TURN_BUDGET_MS`; whatever is left stays dirty and the next pass (next turn) continues it.
 *
 * Known heads advance only when a cursor's whole list is sent, and then to the heads the walk
 * started from (and the floor to the store size then), so commands added meanwhile are found by
 * the next walk (the slot is dirty again).
 */
import { MAX_HEADS } from '../../protocol/constants.js';
import type { CommandStore } from '../store/command-store.js';
import { deepestFirst, MissingWalk } from './graph-walk.js';
import type { ReasonName } from '../../protocol/errors.js';
import { TURN_BUDGET_MS } from './poll-queue.js';
import { pushFrames } from './push.js';
import type { SubscriptionTable } from './subscription-table.js';

/** Commands a subscriber's walk advances per pass. */
export const PUSH_WALK_STEPS = 2048;
/** Most bytes of pushes one pass sends one subscriber (after the first frame). */
export const PUSH_PASS_BYTES = 65536;

/** What a pass needs of a subscriber's session. */
export interface PushTarget {
  /** The link is above its high-water mark: push later. */
  readonly blocked: boolean;
  /** Largest message we may send (sealing overhead taken off). */
  readonly sendLimit: number;
  /** The peer takes bare-command pushes. */
  readonly acceptsBare: boolean;
  readonly stats: { pushedCommands: number };
  /** Send one encoded message. */
  sendFrame(body: Uint8Array): void;
  sendError(reason: ReasonName, message: string, retryAfterMs: number | null): void;
}

interface PushCursor {
  /** The heads the walk started from: the known heads once everything is sent. */
  from: number[];
  /** Store size when the walk began: a larger one means commands the list lacks. */
  size: number;
  walk: MissingWalk;
  /** What to send, once the walk is done (skipped commands removed). */
  list: number[] | null;
  pos: number;
}

/** What the pass needs from the engine. */
export interface PushPassHost {
  readonly store: CommandStore;
  readonly table: SubscriptionTable;
  readonly sessions: ReadonlyMap<string, PushTarget>;
  /** Whether `handle` need not be pushed to the subscriber in `slot` (it came from it or a `via` peer). */
  skip(slot: number, peerId: string, handle: number): boolean;
  /** Commands `list[from..to)` were just handed to a subscriber's link in push frames (push latency). */
  sent(list: ArrayLike<number>, from: number, to: number): void;
}

/** Per-subscriber push cursors. */
export class PushPass {
  private readonly cursors = new Map<string, PushCursor>();

  constructor(private readonly host: PushPassHost) {}

  /** Drop a subscriber's cursor: its known heads changed (Subscribe) or its slot is gone. */
  forget(peerId: string): void {
    this.cursors.delete(peerId);
  }

  /** One pass over dirty subscribers. Returns true when work is left for another pass. */
  run(): boolean {
    const { store, table, sessions } = this.host;
    const start = performance.now();
    let left = false;
    table.forEach((slot, peerId) => {
      if (!table.isDirty(slot)) return;
      const s = sessions.get(peerId);
      if (s === undefined || s.blocked) return; // stays dirty; drain or reconnect retries
      if (performance.now() - start >= TURN_BUDGET_MS) {
        left = true;
        return;
      }
      let c = this.cursors.get(peerId);
      if (c === undefined) {
        const from = store.heads();
        c = { from, size: store.size, walk: new MissingWalk(store, table.knownOf(slot), from, table.knownFloor(slot)), list: null, pos: 0 };
        this.cursors.set(peerId, c);
      }
      if (c.list === null) {
        if (!c.walk.step(PUSH_WALK_STEPS)) {
          left = true;
          return;
        }
        c.list = Array.from(c.walk.result()).filter((h) => !this.host.skip(slot, peerId, h));
      }
      table.takeDirty(slot);
      const step = pushFrames(store, table, slot, s.sendLimit, s.acceptsBare, c.list, c.pos, PUSH_PASS_BYTES);
      for (const f of step.frames) s.sendFrame(f);
      if (step.commands > 0) this.host.sent(c.list, c.pos, step.end);
      s.stats.pushedCommands += step.commands;
      c.pos = step.end;
      if (step.exhausted) {
        this.cursors.delete(peerId);
        table.remove(peerId);
        s.sendError('BudgetExhausted', 'push budget exhausted; subscribe again', null);
        return;
      }
      if (c.pos < c.list.length) {
        table.markDirty(slot);
        left = true;
        return;
      }
      this.cursors.delete(peerId);
      table.setKnown(slot, deepestFirst(store, c.from, MAX_HEADS), c.size);
      // Commands added since the walk began are not in its list: find them next pass.
      if (store.size !== c.size) {
        table.markDirty(slot);
        left = true;
      }
    });
    return left;
  }
}
