/**
 * One `Push` whose commands travel as a compact batch (PROTOCOL.md §10.7, `Push.batch`), toward
 * a subscriber that announced `CompactBatch`: the same commands a plain push would carry, in
 * order, each with its signature (this side never sets or honours `Subscribe.elide`), within
 * `limit` bytes for the whole message. The batch's size is bounded from above while it is filled
 * ({@link BatchBound}) and encoded once. Pure.
 */
import { cborHeadLength } from '../../protocol/cbor.js';
import { decodeStoredCommandV2 } from '../../protocol/command-v2.js';
import { encodeBatch } from '../../protocol/compact-batch.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import type { Push } from '../../protocol/messages-v2.js';
import { BatchBound } from './batch-bound.js';

/** A batch push is worth its table and heads only from this many commands on (one goes plain or bare). */
export const MIN_BATCH_PUSH_COMMANDS = 2;

/** What a batch push reads of a scope's store. */
export interface BatchPushSource {
  bytesOf(h: number): Uint8Array;
  /** The id the store keeps for `h`: a batch push decodes its commands without hashing them again. */
  idOf(h: number): Uint8Array;
}

/** A batch push of `todo[pos..end)`; `held`: it stopped before a command held without its signature. */
export interface BatchPushFrame {
  body: Uint8Array;
  end: number;
  /** The next command would not fit `remaining` either: the budget, not the frame, stopped it. */
  cut: boolean;
  held: boolean;
}

/**
 * The longest run of `todo[pos..]` (at least {@link MIN_BATCH_PUSH_COMMANDS}) that fits `limit`
 * as one batch push to number `scope`, `remaining` the budget left (for `cut` and the message's
 * own `remaining`); `empty`: emptyPushBytes(scope). Null when fewer fit: the caller pushes plainly.
 */
export function batchPushFrame(src: BatchPushSource, todo: ArrayLike<number>, pos: number, o: { scope: number; limit: number; remaining: number; empty: number }): BatchPushFrame | null {
  const b = new BatchBound(false);
  // The message: E (the push with no command, the longest `remaining`, less the list's head), the empty list (1), the batch.
  const sizeWith = (extra: number, newAuthor: boolean): number => o.empty + cborHeadLength(0) + b.size(extra, newAuthor);
  let end = pos;
  let cut = false;
  let held = false;
  for (; end < todo.length; end++) {
    const h = todo[end]!;
    const cmd = decodeStoredCommandV2(src.bytesOf(h), src.idOf(h));
    if (cmd.signature === null) {
      held = true;
      break;
    }
    const e = b.entryOf(cmd);
    if (e.size === Infinity) break; // a 65th author: the batch ends here
    if (sizeWith(e.size, e.newAuthor) > o.limit) {
      cut = sizeWith(e.size, e.newAuthor) > o.remaining;
      break;
    }
    b.add(cmd, e.size, false);
  }
  if (end - pos < MIN_BATCH_PUSH_COMMANDS) return null;
  const msg: Push = { type: 'Push', scope: o.scope, remaining: 0, exhausted: cut, commands: [], batch: encodeBatch(b.inputs) };
  // §11.4 item 5, as for a plain push: the figure told is never more than the truth and at most 4 bytes less.
  msg.remaining = Math.max(0, o.remaining - encodeMessageV2(msg).length - 4);
  return { body: encodeMessageV2(msg), end, cut, held };
}
