/**
 * The running upper bound of a compact batch being filled (PROTOCOL.md §10.7), entry by entry,
 * so an answer or a push stays within its budget without encoding the batch more than once:
 * a run is never larger than its members as plain entries. Used by poll-answer-batch.ts (answers)
 * and push-batch-v2.ts (pushes).
 */
import { byteStringSize } from '../../protocol/budget.js';
import { cborHeadLength } from '../../protocol/cbor.js';
import type { CommandV2 } from '../../protocol/command-v2.js';
import { MAX_BATCH_AUTHORS, type BatchInput } from '../../protocol/compact-batch.js';
import { CommandKind, SEGMENT_BYTES } from '../../protocol/constants-v2.js';
import { equalBytes } from '../../protocol/bytes.js';
import { toHex } from '../../protocol/keys.js';

/** Bytes a signature adds to an entry beyond a `null`: `58 40` + 64 − 1. */
export const SIGNATURE_EXTRA = 65;
/** A batch's own bytes beyond one entry with one new author: byte-string head (3), array (1), authors head (1), entries head (1). */
export const BATCH_OVERHEAD = 6;

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
export function chains(prev: CommandV2, next: CommandV2): boolean {
  return equalBytes(prev.author, next.author) && prev.kind === next.kind && next.kind !== CommandKind.Genesis &&
    next.parents.length === 1 && equalBytes(next.parents[0]!, prev.id) && next.seq === prev.seq + 1;
}

/** The running upper bound of a batch being filled. */
export class BatchBound {
  readonly inputs: BatchInput[] = [];
  private readonly position = new Map<string, number>();
  private readonly authors = new Map<string, number>();
  private readonly lastSeq = new Map<number, number>();
  private entries = 0;
  /** The current chain (C5): its first command and its payloads' bytes. */
  private chainFirst: CommandV2 | undefined;
  private chainPayload = 0;

  /**
   * @param elide whether signatures may be left to a later link of the same chain
   * @param segment C5's bound on a chain's entries, by {@link segmentBound} (default {@link SEGMENT_BYTES})
   */
  constructor(private readonly elide: boolean, private readonly segment = SEGMENT_BYTES) {}

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

  /** Whether `cmd` continues the last input's chain so that the last one may leave its signature to it (C5: the chain within the segment, by {@link segmentBound}). */
  elidesPrevious(cmd: CommandV2): boolean {
    const last = this.inputs[this.inputs.length - 1]?.command;
    if (!this.elide || last === undefined || this.chainFirst === undefined || !chains(last, cmd)) return false;
    return segmentBound(this.chainFirst, this.chainPayload + byteStringSize(cmd.payload.length)) <= this.segment;
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
