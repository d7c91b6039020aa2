/**
 * The resynchronising record scanner. It walks a log's records in file order; where a record
 * does not verify it scans forward, byte by byte, for the next offset where one does, and
 * reports the bytes in between as a damaged range. So damage costs the records it overlaps and
 * never the good ones after it. Only an incomplete last record (a plausible record start whose
 * bytes run past the end of the file) is a torn tail. Reads in 1 MiB windows, so a large log
 * never sits in memory.
 */
import { readSync } from 'node:fs';
import { MAX_COMMAND_BYTES } from '../../protocol/constants.js';
import type { RecordFormat } from './log-format.js';

/** Bytes skipped because no record there verified (or one verified but was refused). */
export interface DamagedRange {
  offset: number;
  length: number;
  /** Why the first record of the range was refused (e.g. `CRC mismatch`). */
  reason: string;
}

/** Outcome of {@link scanRecords}. */
export interface ScanResult {
  /** Records accepted by the visitor. */
  records: number;
  /** Damaged ranges, ascending, not overlapping. A damaged tail (garbage to EOF) is one too. */
  damaged: DamagedRange[];
  /** An incomplete last record: `[offset, end)`. */
  torn?: { offset: number; length: number };
  /** Where the file's content ends once a torn tail is cut (the file size when there is none). */
  end: number;
}

/**
 * Visitor of one verified record: `body` (valid only during the call) starts at `bodyOffset`;
 * return null to accept it or a reason to count the whole record as damaged.
 */
export type RecordVisitor = (body: Uint8Array, recordOffset: number, bodyOffset: number) => string | null;

/** What the scanner needs of a layout: the per-scope logs (format v3) pass their own. */
export type RecordLayout = Pick<RecordFormat, 'headBytes' | 'check' | 'nextCandidate'>;

const WINDOW_BYTES = 1 << 20;

/** A sliding read window over `[.., end)` of a file. */
class Window {
  readonly buf = Buffer.allocUnsafe(WINDOW_BYTES);
  base = 0;
  have = 0;
  constructor(
    private readonly fd: number,
    readonly end: number,
  ) {}

  /** Make `[pos, min(pos + n, end))` readable at `buf[pos - base]`. */
  load(pos: number, n: number): void {
    const want = Math.min(pos + n, this.end);
    if (pos >= this.base && want <= this.base + this.have) return;
    if (pos >= this.base && pos <= this.base + this.have) {
      const keep = this.base + this.have - pos;
      this.buf.copy(this.buf, 0, pos - this.base, pos - this.base + keep);
      this.have = keep;
    } else this.have = 0;
    this.base = pos;
    while (this.have < this.buf.length && this.base + this.have < this.end) {
      const got = readSync(this.fd, this.buf, this.have, Math.min(this.buf.length - this.have, this.end - this.base - this.have), this.base + this.have);
      if (got === 0) break; // the file shrank under us: treat what we have as the end
      this.have += got;
    }
  }

  get eof(): boolean {
    return this.base + this.have >= this.end;
  }
}

/**
 * Scan the records of `fd` in `[start, end)` laid out as `fmt`, handing each verified one to
 * `visit`. Never throws on content (only on a read error).
 */
export function scanRecords(fd: number, fmt: RecordLayout, start: number, end: number, visit: RecordVisitor): ScanResult {
  const w = new Window(fd, end);
  const reach = fmt.headBytes + MAX_COMMAND_BYTES;
  const damaged: DamagedRange[] = [];
  let records = 0;
  let pos = start;
  /** Start of the current damaged stretch (-1: none) and what was found there. */
  let badAt = -1;
  let badWhy = '';
  let badTorn = false;
  const closeBad = (upTo: number): void => {
    if (badAt >= 0) damaged.push({ offset: badAt, length: upTo - badAt, reason: badWhy });
    badAt = -1;
  };
  while (pos < end) {
    w.load(pos, reach);
    const at = pos - w.base;
    const c = fmt.check(w.buf, at, w.have, w.eof);
    if (c.kind === 'ok') {
      const bodyAt = at + c.head;
      const why = visit(w.buf.subarray(bodyAt, bodyAt + c.len), pos, pos + c.head);
      if (why === null) {
        closeBad(pos);
        records++;
      } else if (badAt < 0) {
        // A whole record that verifies but is refused: skip exactly it.
        badAt = pos;
        badWhy = why;
        badTorn = false;
      }
      pos += c.head + c.len;
      continue;
    }
    if (badAt < 0) {
      badAt = pos;
      badWhy = c.kind === 'torn' ? 'incomplete record' : c.why;
      badTorn = c.kind === 'torn';
    }
    pos = nextCandidate(w, fmt, pos + 1, reach);
  }
  if (badAt >= 0 && badTorn) return { records, damaged, torn: { offset: badAt, length: end - badAt }, end: badAt };
  closeBad(end);
  return { records, damaged, end };
}

/** First offset ≥ `from` that may start a record, or `w.end`. */
function nextCandidate(w: Window, fmt: RecordLayout, from: number, reach: number): number {
  let p = from;
  while (p < w.end) {
    w.load(p, reach);
    const i = fmt.nextCandidate(w.buf, p - w.base, w.have);
    if (i >= 0) return w.base + i;
    p = w.base + w.have;
  }
  return w.end;
}

/** Total bytes of `ranges`. */
export const rangeBytes = (ranges: readonly DamagedRange[]): number => ranges.reduce((n, r) => n + r.length, 0);
