/**
 * How the simulated device answers a `PollRequest` from its ring — far simpler than the agent's
 * graph walk, as firmware would do it, with one fixed mark per ring slot:
 *
 * 1. Walking the ring newest to oldest, mark every entry the requester names in its heads or
 *    sample, and the ring parents of every marked entry: the requester holds all of those.
 * 2. Send the unmarked entries, oldest first, cut at a command boundary so that the exact encoded
 *    size of the answer stays within the budget; `more` says something was left out.
 *
 * On a linear history this is exactly "the entries after the newest one the requester names"
 * (everything when it names none). Marking ancestors instead of cutting at that newest entry
 * keeps a command on a side branch — an order received just before the peer's next telemetry
 * arrived — from being skipped forever. A mark only ever follows a real parent link, so an
 * error in it can only resend a command, never withhold one.
 */
import {
  MIN_POLL_BYTES, cborHeadLength, encodeMessage, equalBytes, type ErrorMessage, type PollRequest, type PollResponse,
} from '../../protocol/index.js';
import { ListFit, byteStringSize } from '../../protocol/budget.js';
import { errorMessage } from '../../protocol/error-message.js';
import type { CommandRing } from './ring.js';

/** Answers polls from one ring; owns the fixed mark buffer. */
export class RingResponder {
  private readonly known: Uint8Array;

  constructor(private readonly ring: CommandRing) {
    this.known = new Uint8Array(ring.capacity);
  }

  /**
   * Mark what a requester naming `heads` and `sample` holds; returns how many ring entries it
   * lacks. Read the marks with {@link isKnown} until the ring changes.
   */
  mark(heads: readonly Uint8Array[], sample: readonly Uint8Array[]): number {
    const ring = this.ring;
    const known = this.known;
    known.fill(0);
    let lacking = ring.count;
    const set = (j: number): void => {
      if (j >= 0 && known[j] === 0) {
        known[j] = 1;
        lacking--;
      }
    };
    for (let i = ring.count - 1; i >= 0; i--) {
      if (known[i] === 0) {
        const id = ring.idAt(i);
        // A device has one uplink: what it received, or saw named in an earlier poll, the
        // requester holds — never send it back.
        if (ring.isHeld(i) || containsId(heads, id) || containsId(sample, id)) set(i);
      }
      // Parents nearly always sit before their children (they arrived first), so one pass does;
      // a parent that arrived late is marked but not followed, which can only cause a resend.
      if (known[i] === 1) {
        ring.markHeld(i); // the requester holds it: the ring may now overwrite it
        ring.forEachParent(i, (p) => set(ring.indexOf(p)));
      }
    }
    return lacking;
  }

  /** Whether ring position `i` was marked known by the last {@link mark}. */
  isKnown(i: number): boolean {
    return this.known[i] === 1;
  }

  /**
   * The reply to `req`: {@link answer} within `limit`, or `Error{Malformed}` when its `max_bytes`
   * is below {@link MIN_POLL_BYTES} (PROTOCOL.md §8.1 step 1).
   */
  respond(req: PollRequest, limit: number, nextPollMs: number): PollResponse | ErrorMessage {
    if (req.max_bytes < MIN_POLL_BYTES) return errorMessage('Malformed', `max_bytes ${req.max_bytes} is below the minimum ${MIN_POLL_BYTES}`);
    return this.answer(req, limit, nextPollMs);
  }

  /**
   * Build the answer to `req`. `limit` is the byte budget of the whole encoded message (the
   * requester's `max_bytes`, lowered to its frame limit by the caller). The command byte strings
   * are views into the ring: encode the result before the ring changes.
   */
  answer(req: PollRequest, limit: number, nextPollMs: number): PollResponse {
    const ring = this.ring;
    const head = ring.newestId();
    const res: PollResponse = {
      type: 'PollResponse',
      session: req.session,
      more: false,
      total: ring.count,
      next_poll_ms: nextPollMs,
      heads: head === null ? [] : [head],
      commands: [],
    };
    let lacking = this.mark(req.heads, req.sample);
    // Size with an empty command list, minus that list's 1-byte head (re-added below as it grows).
    let envelope = encodeMessage(res).length - 1;
    // The head is advisory: it gives way to the first command the budget could carry without it
    // (PROTOCOL.md §8.1 step 6), or the answer of a tightly budgeted requester never moves.
    let first = -1;
    for (let i = 0; i < ring.count && lacking > 0 && first < 0; i++) if (this.known[i] === 0) first = ring.lengthAt(i);
    const need = first < 0 ? cborHeadLength(0) : cborHeadLength(1) + byteStringSize(first);
    if (envelope + need > limit && res.heads.length > 0) {
      res.heads = [];
      envelope = encodeMessage(res).length - 1;
    }
    const fit = new ListFit(envelope, limit);
    for (let i = 0; i < ring.count && lacking > 0; i++) {
      if (this.known[i] === 1) continue;
      if (!fit.take(ring.lengthAt(i))) break;
      res.commands.push(ring.bytesAt(i));
      lacking--;
    }
    res.more = lacking > 0;
    return res;
  }
}

function containsId(list: readonly Uint8Array[], id: Uint8Array): boolean {
  return list.some((x) => equalBytes(x, id));
}
