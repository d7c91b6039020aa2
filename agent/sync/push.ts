/**
 * Push: turn a subscriber's coalesced pending work (known heads + dirty bit) into as few frames
 * as fit its budget and frame size. Budgets are exact: the encoded `Push` messages never add up
 * to more than the remaining bytes; when the next command does not fit, the last push says
 * `exhausted` and the subscription ends — and when not even the first does, no push is sent.
 */
import { encodeBarePush, encodeMessage } from '../../protocol/envelope.js';
import { MAX_HEADS } from '../../protocol/constants.js';
import type { Push } from '../../protocol/messages.js';
import type { CommandStore } from '../store/command-store.js';
import { fitWithin } from './budget.js';
import { deepestFirst, missingFor } from './graph-walk.js';
import type { SubscriptionTable } from './subscription-table.js';

/** Frames to send for one subscriber, and what became of its subscription. */
export interface PushPlan {
  frames: Uint8Array[];
  /** Commands included. */
  commands: number;
  /** True when the budget ran out (the caller sends BudgetExhausted and removes the slot). */
  exhausted: boolean;
}

// Largest envelope of a Push with an empty list: array head, type, remaining (≤ 5), flag.
const EMPTY_PUSH = encodeMessage({ type: 'Push', remaining: 0xffffffff, exhausted: false, commands: [] }).length - 1;

/**
 * Plan the push for `slot`. `skip(handle)` says a command need not be sent (it came from this
 * subscriber or from a peer it also subscribes to); skipped commands still count as known.
 * Advances the slot's known heads and remaining budget. The whole walk and every frame in one
 * piece: the engine spreads big pushes over passes with {@link pushFrames} instead.
 */
export function planPush(
  store: CommandStore,
  table: SubscriptionTable,
  slot: number,
  frameLimit: number,
  bare: boolean,
  skip: (handle: number) => boolean,
): PushPlan {
  const todo = missingFor(store, table.knownOf(slot), store.heads(), table.knownFloor(slot)).filter((h) => !skip(h));
  const plan = pushFrames(store, table, slot, frameLimit, bare, todo, 0, Infinity);
  // Everything held is now sent or skipped: all of it is known, however many heads it has.
  if (!plan.exhausted) table.setKnown(slot, deepestFirst(store, store.heads(), MAX_HEADS), store.size);
  return plan;
}

/** {@link PushPlan} of one pass over part of a subscriber's pending list. */
export interface PushStep extends PushPlan {
  /** Index in `todo` of the first command not sent. */
  end: number;
}

/**
 * Frames for `todo[pos..]` (causal order), within the slot's remaining budget and — after the
 * first frame — `passBytes` (the most one push pass sends this subscriber, so a megabyte budget
 * is sent over several turns of the event loop). Charges the slot's `remaining`; does not touch
 * its known heads (the caller advances them once the whole list is sent).
 */
export function pushFrames(
  store: CommandStore,
  table: SubscriptionTable,
  slot: number,
  frameLimit: number,
  bare: boolean,
  todo: ArrayLike<number>,
  from: number,
  passBytes: number,
): PushStep {
  const frames: Uint8Array[] = [];
  const budget = table.remainingOf(slot);
  let remaining = budget;
  let pos = from;
  let sent = 0;
  let exhausted = false;
  while (pos < todo.length && sent < passBytes) {
    if (bare && todo.length - pos === 1 && store.lengthOf(todo[pos]!) <= Math.min(remaining, frameLimit)) {
      const body = encodeBarePush(store.bytesOf(todo[pos]!));
      frames.push(body);
      remaining -= body.length;
      pos++;
      break;
    }
    const limit = Math.min(remaining, frameLimit);
    const end = fitWithin(EMPTY_PUSH, limit, (k) => store.lengthOf(todo[k]!), pos, todo.length);
    const cut = end < todo.length && end === fitWithin(EMPTY_PUSH, remaining, (k) => store.lengthOf(todo[k]!), pos, end + 1);
    // `cut`: the next command would break the budget itself, not just this frame.
    if (end === pos && !cut) break; // a command larger than a frame cannot happen (MIN_FRAME_BYTES)
    if (end === pos) {
      // Not even the next command fits the budget: no Push at all (an empty one could itself
      // overrun the few bytes left); the caller's Error{BudgetExhausted} ends it (§9.4).
      exhausted = true;
      break;
    }
    const commands: Uint8Array[] = [];
    for (let k = pos; k < end; k++) commands.push(store.bytesOf(todo[k]!));
    const msg: Push = { type: 'Push', remaining: 0, exhausted: cut, commands };
    // `remaining` is part of the message it accounts for: settle it in two encodings (its own
    // head can only shrink on the second pass, so the figure told is never more than the truth).
    msg.remaining = Math.max(0, remaining - encodeMessage(msg).length - 4);
    const body = encodeMessage(msg);
    frames.push(body);
    remaining -= body.length;
    sent += body.length;
    pos = end;
    if (cut) {
      exhausted = true;
      break;
    }
  }
  table.charge(slot, budget - remaining);
  return { frames, commands: pos - from, exhausted, end: pos };
}
