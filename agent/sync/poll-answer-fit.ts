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
import { ScopeStoreBase } from '../store/scope-store-base.js';
import type { AnswerItem, AnswerItems } from './poll-answer-items.js';

/**
 * Up to 10 heads of the reader, deepest first (ties: higher handle first, as v1). Copies. A
 * selection, not a sort: every poll and answer names heads, and a scope can have thousands (a
 * writer that forks on purpose), so this stays one pass with one depth read per head.
 */
export function headsOf(reader: ScopeStoreReader): Uint8Array[] {
  const top: { h: number; d: number }[] = [];
  for (const h of reader.heads()) {
    const d = reader.depthOf(h);
    if (top.length === MAX_HEADS) {
      if (!deeper(d, h, top[MAX_HEADS - 1]!)) continue;
      top.pop();
    }
    let i = top.length;
    while (i > 0 && deeper(d, h, top[i - 1]!)) i--;
    top.splice(i, 0, { h, d });
  }
  return top.map((x) => reader.idOf(x.h).slice());
}

function deeper(d: number, h: number, than: { h: number; d: number }): boolean {
  return d > than.d || (d === than.d && h > than.h);
}

/** Commands the reader retains (`total`): what lies at or above base plus the retained ones below it. */
export function retainedCount(reader: ScopeStoreReader): number {
  if (reader instanceof ScopeStoreBase) return reader.size - reader.base + reader.pinnedCount;
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
 * A command held without its signature (PROTOCOL.md §10.7) never goes as a plain item: `items`
 * must leave them out (`withoutHeld`, §10.3 step 3a).
 * @throws Error when `items` was built with them
 */
export function fitAnswer(base: PollResponse, items: AnswerItems, limit: number): { response: PollResponse; carried: AnswerItem[] } {
  if (!items.withoutHeld) throw new Error('fitAnswer: a plain answer needs items built withoutHeld');
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
  for (let it = items.peek(); it !== undefined && fit.take(it.bytes.length); it = items.peek()) carried.push(items.take()!);
  msg.items = carried.map((c) => c.bytes);
  msg.more = items.peek() !== undefined;
  return { response: msg, carried };
}
