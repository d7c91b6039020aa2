/**
 * The segments of one scope (docs/design/v2-scopes.md §5.1, §5.3): `seg-<first handle, 20
 * digits>.log`, each a v3 record file. A segment holds the commands from its first handle up to
 * the next segment's first handle, in order, with the gap markers that precede them; a new one
 * starts when the current one exceeds min(4 MiB, max(64 KiB, B / 8)) (B the scope's byte bound,
 * 4 MiB when unbounded), so a bounded scope's disk use stays within about B plus one segment.
 * Physical pruning deletes whole segments wholly below the base that hold no pinned data command.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Durability } from './command-store.js';
import type { FdPool } from './fd-pool.js';
import { fsyncDir } from './log-format.js';
import { RecordFile } from './record-file.js';

/** File name of a segment. */
export const SEGMENT_PATTERN = /^seg-(\d{20})\.log$/;

/** `seg-<first handle, 20 digits>.log`. */
export const segmentName = (first: number): string => `seg-${String(first).padStart(20, '0')}.log`;

/** The byte bound unbounded scopes are sized for, and the largest segment. */
const UNBOUNDED_BYTES = 4 << 20;

/** Size past which a segment is closed: min(4 MiB, max(64 KiB, B / 8)), B = `byteBound` or 4 MiB. */
export function rollBytesFor(byteBound?: number): number {
  const b = byteBound !== undefined && byteBound > 0 ? byteBound : UNBOUNDED_BYTES;
  return Math.min(UNBOUNDED_BYTES, Math.max(64 << 10, Math.floor(b / 8)));
}

/** One segment: its first handle and file. */
export interface Segment {
  readonly first: number;
  readonly file: RecordFile;
}

/** The ordered segments of a scope directory. */
export class SegmentLog {
  private constructor(
    private readonly dir: string,
    private segs: Segment[],
    private readonly pool: FdPool,
    private readonly durability: Durability,
    private readonly rollBytes: number,
    /** Bytes cut from torn headers of segment files while opening. */
    readonly truncatedHeaders: number,
  ) {}

  /** Open every segment of `dir` (header checks only; the caller scans them). */
  static open(dir: string, pool: FdPool, durability: Durability, rollBytes: number): SegmentLog {
    const firsts: number[] = [];
    for (const name of readdirSync(dir)) {
      const m = SEGMENT_PATTERN.exec(name);
      if (m !== null) firsts.push(Number(m[1]));
    }
    firsts.sort((a, b) => a - b);
    let cut = 0;
    const segs = firsts.map((first) => {
      const { file, repair } = RecordFile.open(join(dir, segmentName(first)), pool, durability);
      cut += repair.truncatedBytes;
      return { first, file };
    });
    return new SegmentLog(dir, segs, pool, durability, rollBytes, cut);
  }

  /** The segments, ascending by first handle. */
  get segments(): readonly Segment[] {
    return this.segs;
  }

  /** The segment that holds handle `h`, or undefined (deleted, or beyond the last one). */
  segmentOf(h: number): Segment | undefined {
    let lo = 0;
    let hi = this.segs.length - 1;
    let found: Segment | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segs[mid]!;
      if (s.first <= h) {
        found = s;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * The file the next record goes to. `next` is the handle the next command will get: a new
   * segment named by it starts when there is none or the current one is full (`roll`: only
   * before a command, so a gap marker stays with the command it precedes when it can).
   */
  current(next: number, roll: boolean): RecordFile {
    const last = this.segs[this.segs.length - 1];
    if (last !== undefined && !(roll && last.file.size > this.rollBytes && next > last.first)) return last.file;
    last?.file.seal();
    const { file } = RecordFile.open(join(this.dir, segmentName(next)), this.pool, this.durability);
    this.segs.push({ first: next, file });
    return file;
  }

  /**
   * Delete every segment, except the last, whose handles all lie below `base` and that holds
   * none of `pinned` (handles of retained data commands below base). Returns how many.
   */
  deleteBelow(base: number, pinned: readonly number[]): number {
    const doomed = new Set<Segment>();
    for (let i = 0; i + 1 < this.segs.length; i++) {
      const s = this.segs[i]!;
      const end = this.segs[i + 1]!.first;
      if (end > base) break;
      if (!pinned.some((h) => h >= s.first && h < end)) doomed.add(s);
    }
    if (doomed.size === 0) return 0;
    for (const s of doomed) {
      this.pool.drop(s.file.path);
      unlinkSync(s.file.path);
    }
    fsyncDir(this.dir);
    this.segs = this.segs.filter((s) => !doomed.has(s));
    return doomed.size;
  }

  /** Durable per the setting: the newest segment (older ones were sealed when the next began). */
  sync(): Promise<void> {
    const last = this.segs[this.segs.length - 1];
    return last === undefined ? Promise.resolve() : last.file.sync();
  }

  /** Flush, fsync and release every segment. */
  async close(): Promise<void> {
    for (const s of this.segs) await s.file.close();
  }
}
