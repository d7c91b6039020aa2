/**
 * Step 6 of the v2 poll answer (docs/design/v2-scopes.md §4.5), the exact budget fit, and the
 * answer's `heads` and `total` fields.
 */
import { ListFit, byteStringSize } from '../../protocol/budget.js';
import { cborHeadLength } from '../../protocol/cbor.js';
import { MAX_HEADS } from '../../protocol/constants.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import type { PollResponse } from '../../protocol/messages-v2.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';
import type { AnswerItem, AnswerItems } from './poll-answer-items.js';

/** Up to 10 heads of the reader, deepest first (ties: higher handle first, as v1). Copies. */
export function headsOf(reader: ScopeStoreReader): Uint8Array[] {
  return reader.heads().sort((a, b) => reader.depthOf(b) - reader.depthOf(a) || b - a).slice(0, MAX_HEADS).map((h) => reader.idOf(h).slice());
}

/** Commands the reader retains (`total`): what lies at or above base plus the retained ones below it. */
export function retainedCount(reader: ScopeStoreReader): number {
  let n = reader.size - reader.base;
  for (let h = 0; h < reader.base; h++) if (reader.isRetained(h)) n++;
  return n;
}

/**
 * Step 6: the longest prefix of the rest of `items` that fits `limit` with `base` (whose `items`
 * is ignored). Exact: the encoded answer never exceeds `limit`; heads give way one by one, last
 * first, while the first item would not fit (then the envelope with no heads is what is sent).
 * `more` says items were left out. Returns the answer and the items it carries.
 *
 * A command held without its signature (PROTOCOL.md §10.7) never goes as a plain item: the answer
 * ends before the first one with `more` false (a requester that gets `more` would ask for the same
 * again), and `held` says so.
 */
export function fitAnswer(base: PollResponse, items: AnswerItems, limit: number): { response: PollResponse; carried: AnswerItem[]; held: boolean } {
  const msg: PollResponse = { ...base, items: [] };
  const first = items.peek();
  const need = first === undefined ? 1 : cborHeadLength(1) + byteStringSize(first.bytes.length);
  let envelope = encodeMessageV2(msg).length - 1;
  while (envelope + need > limit && msg.heads.length > 0) {
    msg.heads = msg.heads.slice(0, -1);
    envelope = encodeMessageV2(msg).length - 1;
  }
  const fit = new ListFit(envelope, limit);
  const carried: AnswerItem[] = [];
  const held = (it: AnswerItem): boolean => it.cmd !== undefined && it.cmd.signature === null;
  for (let it = items.peek(); it !== undefined && !held(it) && fit.take(it.bytes.length); it = items.peek()) carried.push(items.take()!);
  msg.items = carried.map((c) => c.bytes);
  const next = items.peek();
  msg.more = next !== undefined && !held(next);
  return { response: msg, carried, held: next !== undefined && held(next) };
}
