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
 * leaves a covered command without its cover. C5 is measured by {@link segmentBound}, the same
 * on every host, so a host holding such a chain without its signatures (engine setting `elide`)
 * can always send it again, whole, with its cover.
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

/**
 * Upper bound of a chain starting with `first` whose payloads take `payloadBytes` (their byte
 * strings, heads included) as one element of *any* batch: parents as full ids, the longest author
 * index, seq delta and payload-list head, the signature and the run's reserved 0. C5 is measured
 * with it, so a host that received the chain covered measures the same when it re-sends it (in
 * another batch its first parent may be a full id where it was an index) and it always fits.
 */
export function segmentBound(first: CommandV2, payloadBytes: number): number {
  return 1 + cborHeadLength(first.parents.length) + first.parents.length * byteStringSize(32) + 2 + 5 + 1 + 3 + payloadBytes + SIGNATURE_EXTRA + 1 + 1;
}

/** Whether `next` continues `prev`'s chain (compact-batch.ts makes such inputs one run when `prev` is elided). */
function chains(prev: CommandV2, next: CommandV2): boolean {
  return equalBytes(prev.author, next.author) && prev.kind === next.kind && next.kind !== CommandKind.Genesis &&
    next.parents.length === 1 && equalBytes(next.parents[0]!, prev.id) && next.seq === prev.seq + 1;
}

/** The running upper bound of a batch being filled. */
class BatchBound {
  readonly inputs: BatchInput[] = [];
  private readonly position = new Map<string, number>();
  private readonly authors = new Map<string, number>();
  private readonly lastSeq = new Map<number, number>();
  private entries = 0;
  /** The current chain (C5): its first command and its payloads' bytes. */
  private chainFirst: CommandV2 | undefined;
  private chainPayload = 0;

  constructor(private readonly elide: boolean) {}

  /** Upper bound of the encoded batch (its byte-string head included) with `extra` more bytes of `count` more commands; 0 when empty. */
  size(extra = 0, newAuthor = false, count = extra > 0 ? 1 : 0): number {
    const n = this.inputs.length + count;
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

  /** Whether `cmd` continues the last input's chain so that the last one may leave its signature to it (C5 by {@link segmentBound}). */
  elidesPrevious(cmd: CommandV2): boolean {
    const last = this.inputs[this.inputs.length - 1]?.command;
    if (!this.elide || last === undefined || this.chainFirst === undefined || !chains(last, cmd)) return false;
    return segmentBound(this.chainFirst, this.chainPayload + byteStringSize(cmd.payload.length)) <= SEGMENT_BYTES;
  }

  add(cmd: CommandV2, size: number, elidePrevious: boolean): void {
    if (elidePrevious) {
      this.inputs[this.inputs.length - 1]!.elide = true;
      this.entries -= SIGNATURE_EXTRA;
      this.chainPayload += byteStringSize(cmd.payload.length);
    } else {
      this.chainFirst = cmd;
      this.chainPayload = byteStringSize(cmd.payload.length);
    }
    this.entries += size;
    this.push(cmd, false);
  }

  /** Add a chain of held commands and their cover (its last) as one run of at most `bound` bytes. */
  addRun(run: readonly CommandV2[], bound: number): void {
    this.entries += bound;
    run.forEach((c, i) => this.push(c, i < run.length - 1));
    this.chainFirst = run[0];
    this.chainPayload = run.reduce((n, c) => n + byteStringSize(c.payload.length), 0);
  }

  private push(cmd: CommandV2, elide: boolean): void {
    const key = toHex(cmd.author);
    let a = this.authors.get(key);
    if (a === undefined) this.authors.set(key, (a = this.authors.size));
    this.position.set(toHex(cmd.id), this.inputs.length);
    this.lastSeq.set(a, cmd.seq);
    this.inputs.push({ command: cmd, elide });
  }
}

/**
 * The commands from the next item of `items` that this host holds without a signature up to the
 * first one that carries it (their cover), when they are consecutive in L, form one chain (each
 * the next link of the previous) and fit one segment; else null (they cannot be sent).
 */
function heldRun(items: AnswerItems): { run: AnswerItem[]; bound: number } | null {
  const run: AnswerItem[] = [];
  let payload = 0;
  for (let k = 0; ; k++) {
    const it = items.ahead(k);
    if (it?.cmd === undefined || it.handle < 0) return null;
    if (run.length > 0 && !chains(run[run.length - 1]!.cmd!, it.cmd)) return null;
    payload += byteStringSize(it.cmd.payload.length);
    const bound = segmentBound(run[0]?.cmd ?? it.cmd, payload);
    if (bound > SEGMENT_BYTES) return null;
    run.push(it);
    if (it.cmd.signature !== null) return { run, bound };
  }
}

/**
 * Step 6 with a compact batch: the longest prefix of the rest of `items` that fits `limit`, its
 * records in `items` and its commands in `batch` (absent when it carries none). Heads give way
 * as in `fitAnswer` while the first item would not fit. `elide`: the poll's `elide` field.
 *
 * A command this host holds without its signature goes only with `elide`, in one run with the
 * commands after it up to its cover (the next that carries a signature), the run within one
 * segment and the budget, else the batch ends before the run. When it cannot go at all (no
 * `elide`, or no cover in reach) the answer ends before it with `more` false and `held` true.
 */
export function fitBatchAnswer(base: PollResponse, items: AnswerItems, limit: number, elide: boolean): { response: PollResponse; carried: AnswerItem[]; held: boolean } {
  const msg: PollResponse = { ...base, items: [] };
  delete msg.batch;
  delete msg.train;
  const first = items.peek();
  // A held first command needs its whole run (up to a segment): heads give way for it too.
  const firstRun = elide && first?.cmd?.signature === null ? heldRun(items) : null;
  const need = first === undefined ? 1 : firstRun !== null ? byteStringSize(firstRun.bound + BATCH_OVERHEAD + 9) : cborHeadLength(1) + byteStringSize(first.bytes.length) + BATCH_OVERHEAD + 9;
  let envelope = encodeMessageV2(msg).length - 1;
  while (envelope + need > limit && msg.heads.length > 0) {
    msg.heads = msg.heads.slice(0, -1);
    envelope = encodeMessageV2(msg).length - 1;
  }
  const b = new BatchBound(elide);
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
      const r = elide ? heldRun(items) : null;
      if (r === null) {
        held = true;
        break;
      }
      const e = b.entryOf(it.cmd); // size Infinity: a 65th author, the batch ends here
      if (e.size === Infinity || sizeWith(records.length, recordBytes, b.size(r.bound, e.newAuthor, r.run.length)) > limit) break;
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
