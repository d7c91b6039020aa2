/**
 * What `syncwire store check` and `store salvage` do: inspect a log without touching it, and
 * rebuild a good log from every valid record of a damaged one — even one whose header is
 * unreadable (its records are found by their markers; a v1 log's by length and CRC).
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { FORMAT_V1, FORMAT_V2, HEADER_BYTES, checkHeader, type LogVersion, type RecordFormat } from './log-format.js';
import { LogIndexer } from './log-index.js';
import { quarantine, rewriteLog, type Quarantine } from './log-rewrite.js';
import { rangeBytes, scanRecords, type DamagedRange, type ScanResult } from './log-scan.js';
import { StoreError, type StoreErrorReason } from './store-errors.js';

/** What the header of a log says. */
export type HeaderState = 'ok' | 'torn' | 'missing' | Exclude<StoreErrorReason, 'unwritable'>;

/** Result of {@link inspectLog}. */
export interface LogInspection {
  file: string;
  size: number;
  header: HeaderState;
  /** The layout the records were read as (the header's, or the one that found more records). */
  version?: LogVersion;
  /** Verified, decodable records. */
  records: number;
  /** Of those, records whose ancestry is complete (what the agent loads into its graph). */
  indexed: number;
  /** Records kept whose parents are missing (loaded as orphans, repaired from peers). */
  orphans: number;
  duplicates: number;
  damaged: DamagedRange[];
  damagedBytes: number;
  /** An incomplete last record (cut by the agent on open: never an acknowledged command). */
  torn?: { offset: number; length: number };
  /**
   * `intact`: the agent opens it with nothing to repair beyond a torn tail (orphans, if any,
   * are repaired from peers); `damaged`: some bytes are skipped or the header is bad (the agent
   * refuses a bad header; salvage rebuilds it); `unsupported`: a newer
   * syncwire's log; `missing`: no log.
   */
  verdict: 'intact' | 'damaged' | 'unsupported' | 'missing';
  /** Where records start and how they are laid out (internal to salvage). */
  readonly plan?: { fmt: RecordFormat; start: number; end: number };
}

/** Inspect the log `file` read-only. Never modifies anything. @throws only on I/O errors. */
export function inspectLog(file: string): LogInspection {
  const empty = { file, size: 0, records: 0, indexed: 0, orphans: 0, duplicates: 0, damaged: [], damagedBytes: 0 };
  if (!existsSync(file)) return { ...empty, header: 'missing', verdict: 'missing' };
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, HEADER_BYTES));
    readSync(fd, head, 0, head.length, 0);
    let header: HeaderState;
    let version: LogVersion | undefined;
    try {
      const v = checkHeader(head, file);
      header = v === 'torn' ? 'torn' : 'ok';
      if (v !== 'torn') version = v;
    } catch (err) {
      if (!(err instanceof StoreError) || err.reason === 'unwritable') throw err;
      header = err.reason;
    }
    if (header === 'torn') return { ...empty, size, header, version: 2, verdict: 'intact' };
    if (header === 'unsupported-version') return { ...empty, size, header, verdict: 'unsupported' };
    const tries: Array<[RecordFormat, number]> = version !== undefined ? [[version === 1 ? FORMAT_V1 : FORMAT_V2, HEADER_BYTES]] : [[FORMAT_V2, 0], [FORMAT_V1, HEADER_BYTES]];
    let best: { ix: LogIndexer; scan: ScanResult; fmt: RecordFormat; start: number } | undefined;
    for (const [fmt, start] of tries) {
      const ix = new LogIndexer();
      const scan = scanRecords(fd, fmt, Math.min(start, size), size, ix.visit);
      if (best === undefined || scan.records > best.scan.records) best = { ix, scan, fmt, start };
    }
    const { ix, scan, fmt, start } = best!;
    const damaged = [...scan.damaged];
    // A bad header read as v1 starts the scan after it: the header itself is the damage.
    if (header !== 'ok' && start === HEADER_BYTES) damaged.unshift({ offset: 0, length: Math.min(HEADER_BYTES, size), reason: header });
    else if (header !== 'ok' && damaged[0]?.offset === 0) damaged[0] = { ...damaged[0], reason: header };
    const orphans = ix.orphans().size;
    // Orphans alone are no damage salvage could fix: the agent repairs them from peers.
    const bad = header !== 'ok' || damaged.length > 0;
    return {
      file,
      size,
      header,
      version: fmt.version,
      records: scan.records,
      indexed: ix.index.size,
      orphans,
      duplicates: ix.duplicates,
      damaged,
      damagedBytes: rangeBytes(damaged),
      ...(scan.torn ? { torn: scan.torn } : {}),
      verdict: bad ? 'damaged' : 'intact',
      plan: { fmt, start, end: scan.end },
    };
  } finally {
    closeSync(fd);
  }
}

/** Result of {@link salvageLog}. */
export interface SalvageResult {
  before: LogInspection;
  /** False when the log needed nothing (intact, current version, no torn tail). */
  rebuilt: boolean;
  /** Records in the rebuilt log. */
  records: number;
  quarantine?: Quarantine;
  /** The original file, kept under this name. */
  backup?: string;
}

/**
 * Rebuild `file` as a v2 log of every valid record: damaged bytes (and a bad header) go to a
 * quarantine, the original is kept as `<file>.salvage-backup-<time>`, the new log replaces it
 * atomically. The caller holds the data directory's lock.
 * @throws StoreError 'unsupported-version' (a newer syncwire's log is never rewritten) or
 *   'not-a-log' when no record at all is found in a foreign file (it is left alone).
 */
export function salvageLog(file: string): SalvageResult {
  const before = inspectLog(file);
  if (before.verdict === 'missing') return { before, rebuilt: false, records: 0 };
  if (before.verdict === 'unsupported') {
    throw new StoreError('unsupported-version', file, `${file}: written by a newer syncwire (unknown layout version); salvaging would downgrade it — run the newer syncwire`);
  }
  if (before.header === 'not-a-log' && before.records === 0) {
    throw new StoreError('not-a-log', file, `${file}: no syncwire record found in it; it is left as it is`);
  }
  const clean = before.verdict === 'intact' && before.version === 2 && before.torn === undefined && before.damaged.length === 0;
  if (clean || before.plan === undefined) return { before, rebuilt: false, records: before.records };
  const fd = openSync(file, 'r');
  try {
    const q = before.damaged.length > 0 ? quarantine(fd, file, before.version ?? 0, before.damaged) : undefined;
    const { fmt, start, end } = before.plan;
    const r = rewriteLog(fd, file, fmt, start, end, `${file}.salvage-backup`);
    return { before, rebuilt: true, records: r.records, ...(q ? { quarantine: q } : {}), ...(r.backup ? { backup: r.backup } : {}) };
  } finally {
    closeSync(fd);
  }
}
