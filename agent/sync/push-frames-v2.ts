/**
 * The frames of one v2 push step (protocol-v2.md §11.4 items 2–5, §11.6): a subscriber's pending
 * commands of one scope as `Push{scope, remaining, exhausted, commands}` messages — or, for a
 * single last command to a peer that announced `BareCommand`, the 7-element bare push — within
 * `min(remaining budget, frame limit)`. Budgets are exact: the encoded messages never add up to
 * more than the budget; when the next command would break the budget itself the push is trimmed
 * there and says `exhausted`, and when not even the next one fits no push is sent at all (the
 * caller's `Error{BudgetExhausted}` ends the subscription). A command this host holds without its
 * signature (PROTOCOL.md §10.7) is never pushed: the step ends before it (`held`), and the
 * subscriber's next poll fetches it in a compact batch with its cover. Pure: no I/O, no timers.
 */
import { encodeBarePushV2 } from '../../protocol/bare-push-v2.js';
import { isHeldCommandV2 } from '../../protocol/command-v2.js';
import { fitWithin } from '../../protocol/budget.js';
import { cborHeadLength } from '../../protocol/cbor.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import type { Push } from '../../protocol/messages-v2.js';
import { batchPushFrame, MIN_BATCH_PUSH_COMMANDS, type BatchPushSource } from './push-batch-v2.js';

/** What the step reads of a scope's store. */
export interface PushSource extends BatchPushSource {
  lengthOf(h: number): number;
}

/** One push step's outcome. */
export interface PushStepV2 {
  /** Encoded bodies, in sending order. */
  frames: Uint8Array[];
  /** Index in the list of the first command not sent. */
  end: number;
  /** Bytes charged to the budget (the frames' total length). */
  charged: number;
  /** The budget stopped the step (trimmed push, or nothing fit): the subscription ends. */
  exhausted: boolean;
  /** The step ended before a command held without its signature (`end` is its index): the pass stops for this slot. */
  held?: boolean;
}

/** {@link emptyPushBytes} by number: it encodes a message, and every push step asks. */
const emptyBytes = new Map<number, number>();

/** `E` of §11.4 item 2: a `Push` to number `scope` with no command and the longest `remaining` head, less the empty list's head. */
export function emptyPushBytes(scope: number): number {
  let e = emptyBytes.get(scope);
  if (e === undefined) {
    if (emptyBytes.size >= 1024) emptyBytes.clear(); // numbers are small in practice; bound it anyway
    emptyBytes.set(scope, (e = encodeMessageV2({ type: 'Push', scope, remaining: 0xffff_ffff, exhausted: false, commands: [] }).length - 1));
  }
  return e;
}

/**
 * Frames for `todo[from..]` (handles in causal order) to the subscriber's number `scope`, within
 * `budget` bytes and `frameLimit` per message; after the first frame at most `passBytes` (so a
 * big budget is sent over several passes). `bare`: the subscriber announced `BareCommand`.
 */
export function pushStepV2(
  src: PushSource,
  todo: ArrayLike<number>,
  from: number,
  o: { scope: number; budget: number; frameLimit: number; bare: boolean; compact?: boolean; passBytes: number },
): PushStepV2 {
  const frames: Uint8Array[] = [];
  const empty = emptyPushBytes(o.scope);
  const len = (k: number): number => src.lengthOf(todo[k]!);
  let remaining = o.budget;
  let pos = from;
  let sent = 0;
  let exhausted = false;
  let held = false;
  while (pos < todo.length && sent < o.passBytes) {
    const limit = Math.min(remaining, o.frameLimit);
    // §11.6: one command left, to a peer that takes bare pushes, and its body fits: no envelope.
    if (o.bare && todo.length - pos === 1 && len(pos) + cborHeadLength(o.scope) <= limit) {
      const bytes = src.bytesOf(todo[pos]!);
      if (isHeldCommandV2(bytes)) {
        held = true;
        break;
      }
      const body = encodeBarePushV2(bytes, o.scope);
      frames.push(body);
      remaining -= body.length;
      pos++;
      break;
    }
    if (o.compact === true && todo.length - pos >= MIN_BATCH_PUSH_COMMANDS) {
      const f = batchPushFrame(src, todo, pos, { scope: o.scope, limit, remaining, empty });
      if (f !== null) {
        frames.push(f.body);
        remaining -= f.body.length;
        sent += f.body.length;
        pos = f.end;
        held = f.held;
        exhausted = f.cut;
        if (f.held || f.cut) break;
        continue;
      }
    }
    let end = fitWithin(empty, limit, len, pos, todo.length);
    // `cut`: the next command would break the budget itself, not just this frame.
    let cut = end < todo.length && end === fitWithin(empty, remaining, len, pos, end + 1);
    if (end === pos && isHeldCommandV2(src.bytesOf(todo[pos]!))) {
      held = true; // not the budget: the next command is never pushed
      break;
    }
    if (end === pos && !cut) break; // larger than a frame: cannot happen above MIN_FRAME_BYTES
    const commands: Uint8Array[] = [];
    for (let k = pos; k < end; k++) {
      const bytes = src.bytesOf(todo[k]!);
      if (isHeldCommandV2(bytes)) {
        held = true;
        end = k; // a smaller push: the budget did not stop it
        cut = false;
        break;
      }
      commands.push(bytes);
    }
    if (end === pos && held) break;
    if (end === pos) {
      exhausted = true; // not even the next command fits the budget: no Push at all (§11.4 item 4)
      break;
    }
    const msg: Push = { type: 'Push', scope: o.scope, remaining: 0, exhausted: cut, commands };
    // §11.4 item 5: `remaining` is part of the message it accounts for; with the 1-byte head of 0
    // counted as L₀, the figure told is never more than the truth and at most 4 bytes less.
    msg.remaining = Math.max(0, remaining - encodeMessageV2(msg).length - 4);
    const body = encodeMessageV2(msg);
    frames.push(body);
    remaining -= body.length;
    sent += body.length;
    pos = end;
    if (cut) {
      exhausted = true;
      break;
    }
    if (held) break;
  }
  return { frames, end: pos, charged: o.budget - remaining, exhausted, ...(held ? { held } : {}) };
}
