/**
 * Step 6 of the v2 poll answer for a requester that announced `caps` bit 8 (PROTOCOL.md §10.7):
 * horizon records stay in `items`, the commands go into one compact batch (`batch`, field 9),
 * and the budget stays exact — the whole encoded answer never exceeds the limit. While items are
 * taken the batch's size is bounded from above entry by entry (a run is never larger than its
 * members as plain entries); the batch is encoded once at the end.
 *
 * Signatures are elided only when the poll set `elide`, and then only inside a chain: a command
 * whose next command in the batch is its author's next link (only parent, seq + 1, same kind)
 * leaves its signature to it, while the chain's entries stay within {@link SEGMENT_BYTES} (C5).
 * The last command of a budget-limited answer always carries its signature, so trimming never
 * leaves a covered command without its cover.
 */
import { byteStringSize } from '../../protocol/budget.js';
import { cborHeadLength } from '../../protocol/cbor.js';
import type { CommandV2 } from '../../protocol/command-v2.js';
import { encodeBatch, MAX_BATCH_AUTHORS, SEGMENT_BYTES, type BatchInput } from '../../protocol/compact-batch.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { equalBytes } from '../../protocol/bytes.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { PollResponse } from '../../protocol/messages-v2.js';
import type { AnswerItem, AnswerItems } from './poll-answer-items.js';

/** Bytes a signature adds to an entry beyond a `null`: `58 40` + 64 − 1. */
const SIGNATURE_EXTRA = 65;
/** A batch's own bytes beyond one entry with one new author: byte-string head (3), array (1), authors head (1), entries head (1). */
const BATCH_OVERHEAD = 6;

/** The running upper bound of a batch being filled. */
class BatchBound {
  readonly inputs: BatchInput[] = [];
  private readonly position = new Map<string, number>();
  private readonly authors = new Map<string, number>();
  private readonly lastSeq = new Map<number, number>();
  private entries = 0;
  /** Bytes of the current chain's entries (C5), as plain entries. */
  private chainBytes = 0;

  constructor(private readonly elide: boolean) {}

  /** Upper bound of the encoded batch (its byte-string head included); 0 when empty. */
  size(extra = 0, newAuthor = false): number {
    const n = this.inputs.length + (extra > 0 ? 1 : 0);
    if (n === 0) return 0;
    const a = this.authors.size + (newAuthor ? 1 : 0);
    const body = 1 + cborHeadLength(a) + 9 * a + cborHeadLength(n) + this.entries + extra;
    return byteStringSize(body);
  }

  /** The plain-entry size of `cmd` as the next entry (signed), and whether its author is new. */
  entryOf(cmd: CommandV2): { size: number; newAuthor: boolean } {
    const key = toHex(cmd.author);
    const a = this.authors.get(key);
    if (a === undefined && this.authors.size === MAX_BATCH_AUTHORS) return { size: Infinity, newAuthor: true };
    const idx = a ?? this.authors.size;
    const prev = a === undefined ? undefined : this.lastSeq.get(a);
    const delta = Math.abs(prev === undefined ? cmd.seq : cmd.seq - prev);
    let parents = cborHeadLength(cmd.parents.length);
    for (const p of cmd.parents) {
      const at = this.position.get(toHex(p));
      parents += at === undefined ? byteStringSize(p.length) : cborHeadLength(at);
    }
    const size = 1 + parents + cborHeadLength(idx) + cborHeadLength(delta) + 1 + byteStringSize(cmd.payload.length) + 1 + SIGNATURE_EXTRA;
    return { size, newAuthor: a === undefined };
  }

  /** Whether `cmd` continues the last input's chain so that the last one may leave its signature to it. */
  elidesPrevious(cmd: CommandV2, size: number): boolean {
    const last = this.inputs[this.inputs.length - 1]?.command;
    if (!this.elide || last === undefined) return false;
    const chained = equalBytes(last.author, cmd.author) && last.kind === cmd.kind && cmd.kind !== CommandKind.Genesis &&
      cmd.parents.length === 1 && equalBytes(cmd.parents[0]!, last.id) && cmd.seq === last.seq + 1;
    return chained && this.chainBytes - SIGNATURE_EXTRA + size <= SEGMENT_BYTES;
  }

  add(cmd: CommandV2, size: number, elidePrevious: boolean): void {
    const key = toHex(cmd.author);
    let a = this.authors.get(key);
    if (a === undefined) this.authors.set(key, (a = this.authors.size));
    if (elidePrevious) {
      this.inputs[this.inputs.length - 1]!.elide = true;
      this.entries -= SIGNATURE_EXTRA;
      this.chainBytes += size - SIGNATURE_EXTRA;
    } else {
      this.chainBytes = size;
    }
    this.entries += size;
    this.position.set(toHex(cmd.id), this.inputs.length);
    this.lastSeq.set(a, cmd.seq);
    this.inputs.push({ command: cmd, elide: false });
  }
}

/**
 * Step 6 with a compact batch: the longest prefix of the rest of `items` that fits `limit`, its
 * records in `items` and its commands in `batch` (absent when it carries none). Heads give way
 * as in `fitAnswer` while the first item would not fit. `elide`: the poll's `elide` field.
 */
export function fitBatchAnswer(base: PollResponse, items: AnswerItems, limit: number, elide: boolean): { response: PollResponse; carried: AnswerItem[] } {
  const msg: PollResponse = { ...base, items: [] };
  delete msg.batch;
  delete msg.train;
  const first = items.peek();
  const need = first === undefined ? 1 : cborHeadLength(1) + byteStringSize(first.bytes.length) + BATCH_OVERHEAD + 9;
  let envelope = encodeMessageV2(msg).length - 1;
  while (envelope + need > limit && msg.heads.length > 0) {
    msg.heads = msg.heads.slice(0, -1);
    envelope = encodeMessageV2(msg).length - 1;
  }
  const b = new BatchBound(elide);
  const records: Uint8Array[] = [];
  let recordBytes = 0;
  const carried: AnswerItem[] = [];
  const sizeWith = (r: number, rb: number, batch: number): number => envelope + cborHeadLength(r) + rb + batch;
  for (let it = items.peek(); it !== undefined; it = items.peek()) {
    if (it.cmd === undefined || it.handle < 0) {
      if (sizeWith(records.length + 1, recordBytes + byteStringSize(it.bytes.length), b.size()) > limit) break;
      records.push(it.bytes);
      recordBytes += byteStringSize(it.bytes.length);
    } else {
      const e = b.entryOf(it.cmd);
      const elidePrev = b.elidesPrevious(it.cmd, e.size);
      const extra = e.size - (elidePrev ? SIGNATURE_EXTRA : 0);
      if (sizeWith(records.length, recordBytes, b.size(extra, e.newAuthor)) > limit) break;
      b.add(it.cmd, e.size, elidePrev);
    }
    carried.push(items.take()!);
  }
  msg.items = records;
  msg.more = items.peek() !== undefined;
  if (b.inputs.length > 0) msg.batch = encodeBatch(b.inputs);
  return { response: msg, carried };
}
