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
 * Advances the slot's known heads and remaining budget.
 */
export function planPush(
  store: CommandStore,
  table: SubscriptionTable,
  slot: number,
  frameLimit: number,
  bare: boolean,
  skip: (handle: number) => boolean,
): PushPlan {
  const todo = missingFor(store, table.knownOf(slot)).filter((h) => !skip(h));
  const frames: Uint8Array[] = [];
  let remaining = table.remaining[slot]!;
  let pos = 0;
  let exhausted = false;
  while (pos < todo.length) {
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
    pos = end;
    if (cut) {
      exhausted = true;
      break;
    }
  }
  table.remaining[slot] = remaining;
  if (!exhausted) table.setKnown(slot, deepestFirst(store, store.heads(), MAX_HEADS));
  return { frames, commands: pos, exhausted };
}
