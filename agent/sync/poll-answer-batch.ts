/**
 * Step 6 of the v2 poll answer for a requester that announced `caps` bit 8 (PROTOCOL.md §10.7):
 * horizon records stay in `items`, the commands go into one compact batch (`batch`, field 9),
 * and the budget stays exact — the whole encoded answer never exceeds the limit. While items are
 * taken the batch's size is bounded from above entry by entry (a run is never larger than its
 * members as plain entries); the batch is encoded once at the end.
 *
 * Signatures are elided only when the poll set `elide`, and then only inside a chain: a command
 * whose next command in the batch is its author's next link (only parent, seq + 1, same kind)
 * leaves its signature to it, while the chain's entries stay within the poll's `segment` (C5;
 * absent: {@link SEGMENT_BYTES}).
 * The last command of a budget-limited answer always carries its signature, so trimming never
 * leaves a covered command without its cover. C5 is measured by {@link segmentBound}, the same
 * on every host, so a host holding such a chain without its signatures (engine setting `elide`)
 * can send it again, whole, with its cover, to any requester whose segment is at least as large.
 */
import { byteStringSize } from '../../protocol/budget.js';
import { cborHeadLength } from '../../protocol/cbor.js';
import type { CommandV2 } from '../../protocol/command-v2.js';
import { encodeBatch } from '../../protocol/compact-batch.js';
import { SEGMENT_BYTES } from '../../protocol/constants-v2.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import type { PollResponse } from '../../protocol/messages-v2.js';
import { BATCH_OVERHEAD, BatchBound, chains, segmentBound, SIGNATURE_EXTRA } from './batch-bound.js';
import type { AnswerItem, AnswerItems } from './poll-answer-items.js';


/**
 * The commands from the next item of `items` that this host holds without a signature up to the
 * first one that carries it (their cover), when they are consecutive in L, form one chain (each
 * the next link of the previous) and fit one `segment`; else null (they cannot be sent).
 */
function heldRun(items: AnswerItems, segment: number): { run: AnswerItem[]; bound: number } | null {
  const run: AnswerItem[] = [];
  let payload = 0;
  for (let k = 0; ; k++) {
    const it = items.ahead(k);
    if (it?.cmd === undefined || it.handle < 0) return null;
    if (run.length > 0 && !chains(run[run.length - 1]!.cmd!, it.cmd)) return null;
    payload += byteStringSize(it.cmd.payload.length);
    const bound = segmentBound(run[0]?.cmd ?? it.cmd, payload);
    if (bound > segment) return null;
    run.push(it);
    if (it.cmd.signature !== null) return { run, bound };
  }
}

/**
 * Step 6 with a compact batch: the longest prefix of the rest of `items` that fits `limit`, its
 * records in `items` and its commands in `batch` (absent when it carries none). Heads give way
 * as in `fitAnswer` while the first item would not fit. `elide`: the poll's `elide` field;
 * `segment`: its `segment` field (default {@link SEGMENT_BYTES}).
 *
 * A command this host holds without its signature goes only with `elide`, in one run with the
 * commands after it up to its cover (the next that carries a signature), the run within one
 * segment and the budget, else the batch ends before the run. When it cannot go at all (no
 * `elide`, no cover in reach, or a run that does not fit an answer of nothing else) the answer
 * ends before it with `more` false and `held` true.
 */
export function fitBatchAnswer(base: PollResponse, items: AnswerItems, limit: number, elide: boolean, segment = SEGMENT_BYTES): { response: PollResponse; carried: AnswerItem[]; held: boolean } {
  const msg: PollResponse = { ...base, items: [] };
  delete msg.batch;
  delete msg.train;
  const first = items.peek();
  // A held first command needs its whole run (up to a segment): heads give way for it too.
  const firstRun = elide && first?.cmd?.signature === null ? heldRun(items, segment) : null;
  const need = first === undefined ? 1 : firstRun !== null ? byteStringSize(firstRun.bound + BATCH_OVERHEAD + 9) : cborHeadLength(1) + byteStringSize(first.bytes.length) + BATCH_OVERHEAD + 9;
  let envelope = encodeMessageV2(msg).length - 1;
  while (envelope + need > limit && msg.heads.length > 0) {
    msg.heads = msg.heads.slice(0, -1);
    envelope = encodeMessageV2(msg).length - 1;
  }
  const b = new BatchBound(elide, segment);
  const records: Uint8Array[] = [];
  let recordBytes = 0;
  const carried: AnswerItem[] = [];
  let held = false;
  const sizeWith = (r: number, rb: number, batch: number): number => envelope + cborHeadLength(r) + rb + batch;
  for (let it = items.peek(); it !== undefined; it = items.peek()) {
    if (it.cmd === undefined || it.handle < 0) {
      if (sizeWith(records.length + 1, recordBytes + byteStringSize(it.bytes.length), b.size()) > limit) break;
      records.push(it.bytes);
      recordBytes += byteStringSize(it.bytes.length);
    } else if (it.cmd.signature === null) {
      const r = elide ? heldRun(items, segment) : null;
      if (r === null) {
        held = true;
        break;
      }
      const e = b.entryOf(it.cmd); // size Infinity: a 65th author, the batch ends here
      if (e.size === Infinity || sizeWith(records.length, recordBytes, b.size(r.bound, e.newAuthor, r.run.length)) > limit) {
        // A run larger than the whole budget (held for a larger segment) would never go: end as with no cover.
        held = carried.length === 0;
        break;
      }
      b.addRun(r.run.map((x) => x.cmd!), r.bound);
      for (let k = 0; k < r.run.length; k++) carried.push(items.take()!);
      continue;
    } else {
      const e = b.entryOf(it.cmd);
      const elidePrev = b.elidesPrevious(it.cmd);
      const extra = e.size - (elidePrev ? SIGNATURE_EXTRA : 0);
      if (sizeWith(records.length, recordBytes, b.size(extra, e.newAuthor)) > limit) break;
      b.add(it.cmd, e.size, elidePrev);
    }
    carried.push(items.take()!);
  }
  msg.items = records;
  msg.more = !held && items.peek() !== undefined;
  if (b.inputs.length > 0) msg.batch = encodeBatch(b.inputs);
  return { response: msg, carried, held };
}
