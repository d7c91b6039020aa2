/**
 * Opening a command log: create it if missing, refuse a foreign file, upgrade a v1 log, rebuild
 * the index by scanning, and repair what the scan found — a torn tail is cut; damaged ranges are
 * quarantined beside the log and the log is rewritten without them (or, when that cannot be
 * done, skipped in place on every open). Also the in-process guard against two stores writing
 * one directory.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, realpathSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCommand } from '../../protocol/command.js';
import type { CommandIndex } from './command-index.js';
import { FORMAT_V1, FORMAT_V2, HEADER_BYTES, checkHeader, encodeHeader, fsyncDir, type LogVersion } from './log-format.js';
import { LogIndexer, type OrphanRecord } from './log-index.js';
import { REWRITE_SUFFIX, quarantine, rewriteLog, type Quarantine } from './log-rewrite.js';
import { rangeBytes, scanRecords, type ScanResult } from './log-scan.js';
import type { Logger } from '../node/log.js';
import { asUnwritable, StoreError } from './store-errors.js';


/** Real paths of directories open in this process: a second writer would corrupt the log. */
const openDirs = new Set<string>();

/** What opening found and repaired. */
export interface RepairReport {
  /** Bytes cut from a torn header or an incomplete last record. */
  truncatedBytes: number;
  /** Damaged bytes skipped (quarantined, and removed from the log when it could be rewritten). */
  skippedBytes: number;
  /** Damaged ranges found. */
  damagedRanges: number;
  /** Quarantine file holding the damaged bytes, when any. */
  quarantine?: string;
  /** Records kept in the log whose parents were lost (they wait for a peer to send the parents). */
  orphans: number;
  /** The version the log was upgraded from, when it was. */
  upgradedFrom?: LogVersion;
}

/** A log file ready for appending, with the index of what it holds. */
export interface OpenedLog {
  /** Real path of the store directory (the key to pass to {@link releaseDir}). */
  dir: string;
  /** Absolute path of the log file. */
  file: string;
  /** Read-write descriptor. */
  fd: number;
  index: CommandIndex;
  /** Store orphans by id (hex): on disk, not indexed. */
  orphans: Map<string, OrphanRecord>;
  /** File size after repair: where the next record goes. */
  end: number;
  report: RepairReport;
}

/**
 * Open `name` in `dir` (creating both: directory 0o700, file 0o600), lock the directory for this
 * process, upgrade a v1 log to v2 (the v1 file is kept as `<name>.v1-backup-<time>`), and
 * recover as described in the module comment. Each repair goes to `log` (damage at error level, the rest at warn).
 * Signatures are not re-verified: the log is local and CRC-protected.
 * @throws StoreError (exit status 78) when the file is not a log, its header is corrupt, its
 *   version unknown, or the directory unwritable; StoreError 'already-open' when the directory is already open here.
 *   The file is then left untouched and the lock released.
 */
export function openLog(dir: string, name: string, log: Logger): OpenedLog {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw asUnwritable(err, dir);
  }
  const real = realpathSync(dir);
  if (openDirs.has(real)) throw new StoreError('already-open', real, `command store ${real} is already open in this process`);
  const file = join(real, name);
  let fd = -1;
  openDirs.add(real);
  try {
    const report: RepairReport = { truncatedBytes: 0, skippedBytes: 0, damagedRanges: 0, orphans: 0 };
    let version: LogVersion;
    ({ fd, version } = openHeader(file, real, report, log));
    if (existsSync(file + REWRITE_SUFFIX)) {
      // A crash during a rewrite: the log itself is the old, complete one.
      unlinkSync(file + REWRITE_SUFFIX);
      log.warn({ file: file + REWRITE_SUFFIX }, 'command log: removed an unfinished rewrite');
    }
    if (version === 1) fd = upgrade(fd, file, report, log);
    let ix = new LogIndexer();
    let scan = scanRecords(fd, FORMAT_V2, HEADER_BYTES, fstatSync(fd).size, ix.visit);
    if (scan.damaged.length > 0) {
      const fixed = repairDamage(fd, file, scan, report, log);
      if (fixed !== null) {
        // The rewrite left out a torn tail too: report it here, the rescan will not see it.
        if (scan.torn !== undefined) noteTorn(file, scan.torn, report, log);
        fd = fixed;
        ix = new LogIndexer();
        scan = scanRecords(fd, FORMAT_V2, HEADER_BYTES, fstatSync(fd).size, ix.visit);
      }
    }
    if (scan.torn !== undefined) {
      noteTorn(file, scan.torn, report, log);
      ftruncateSync(fd, scan.end);
      fsyncSync(fd);
    }
    const orphans = ix.orphans();
    report.orphans = orphans.size;
    if (orphans.size > 0) {
      log.warn({ file, orphans: orphans.size }, 'command log: commands whose parents were lost are held as orphans until a peer sends the parents');
    }
    if (ix.duplicates > 0) log.warn({ file, duplicates: ix.duplicates }, 'command log: duplicate records skipped');
    return { dir: real, file, fd, index: ix.index, orphans, end: fstatSync(fd).size, report };
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    openDirs.delete(real);
    throw err;
  }
}

/** Let the directory `dir` (an {@link OpenedLog.dir}) be opened again. */
export function releaseDir(dir: string): void {
  openDirs.delete(dir);
}

/** Open (or create) the file and check its header; a torn header is rewritten (nothing was committed). */
function openHeader(file: string, dir: string, report: RepairReport, log: Logger): { fd: number; version: LogVersion } {
  let fd: number;
  let created = false;
  try {
    fd = openSync(file, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw asUnwritable(err, file);
    try {
      fd = openSync(file, 'wx+', 0o600);
    } catch (e) {
      throw asUnwritable(e, file);
    }
    created = true;
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, HEADER_BYTES));
    readSync(fd, head, 0, head.length, 0);
    const v = checkHeader(head, file);
    if (v !== 'torn') return { fd, version: v };
    report.truncatedBytes = size;
    if (size > 0) log.warn({ file, truncatedBytes: size }, 'command log: rewrote torn header');
    ftruncateSync(fd, 0);
    writeSync(fd, encodeHeader(), 0, HEADER_BYTES, 0);
    fsyncSync(fd);
    if (created) fsyncDir(dir);
    return { fd, version: 2 };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Rewrite a v1 log as v2 (quarantining v1 damage first); returns the new descriptor. */
function upgrade(fd: number, file: string, report: RepairReport, log: Logger): number {
  const scan = scanRecords(fd, FORMAT_V1, HEADER_BYTES, fstatSync(fd).size, (body) => decodable(body));
  if (scan.damaged.length > 0) {
    const q = quarantine(fd, file, 1, scan.damaged);
    noteDamage(file, scan, q, report, log);
  }
  if (scan.torn !== undefined) report.truncatedBytes += scan.torn.length;
  const r = rewriteLog(fd, file, FORMAT_V1, HEADER_BYTES, scan.end, `${file}.v1-backup`);
  closeSync(fd);
  report.upgradedFrom = 1;
  log.warn({ file, records: r.records, backup: r.backup, ...(scan.torn ? { truncatedBytes: scan.torn.length } : {}) }, 'command log: upgraded from layout version 1 to 2');
  return openSync(file, 'r+');
}

/**
 * Quarantine the damaged ranges and rewrite the log without them. Returns the new descriptor,
 * or null when the log is left as it is (quarantine or rewrite failed: the damage is then
 * skipped in place, and found again on the next open).
 */
function repairDamage(fd: number, file: string, scan: ScanResult, report: RepairReport, log: Logger): number | null {
  let q: Quarantine | undefined;
  try {
    q = quarantine(fd, file, 2, scan.damaged);
  } catch (err) {
    log.error({ file, error: String(err) }, 'command log: could not quarantine damaged bytes; leaving them in the log (skipped on every open)');
  }
  noteDamage(file, scan, q, report, log);
  if (q === undefined) return null;
  try {
    rewriteLog(fd, file, FORMAT_V2, HEADER_BYTES, scan.end);
  } catch (err) {
    log.error({ file, error: String(err) }, 'command log: could not rewrite the log without its damaged bytes; skipping them in place');
    return null;
  }
  closeSync(fd);
  return openSync(file, 'r+');
}

function noteTorn(file: string, torn: { offset: number; length: number }, report: RepairReport, log: Logger): void {
  report.truncatedBytes += torn.length;
  log.warn({ file, offset: torn.offset, truncatedBytes: torn.length, reason: 'incomplete last record' }, 'command log: truncated torn tail');
}

function noteDamage(file: string, scan: ScanResult, q: Quarantine | undefined, report: RepairReport, log: Logger): void {
  const bytes = rangeBytes(scan.damaged);
  report.skippedBytes += bytes;
  report.damagedRanges += scan.damaged.length;
  if (q !== undefined) report.quarantine = q.file;
  log.error(
    { file, damagedRanges: scan.damaged.length, skippedBytes: bytes, ranges: scan.damaged.slice(0, 20), recordsKept: scan.records, quarantine: q?.file ?? null },
    'command log: DAMAGED records skipped; the good records before and after them are kept',
  );
}

function decodable(body: Uint8Array): string | null {
  try {
    decodeCommand(body);
    return null;
  } catch (err) {
    return `undecodable command: ${(err as Error).message}`;
  }
}
