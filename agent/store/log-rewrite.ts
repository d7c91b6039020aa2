/**
 * The two ways the store changes a log other than appending, both crash-safe:
 *
 * - **Quarantine**: copy damaged byte ranges to `<log>.quarantine-<time>` (0600, fsynced) with a
 *   JSON sidecar `<that>.json` naming each range's offset, length and reason, before anything is
 *   removed from the log. The bytes are kept for whoever wants to look at them; nothing reads
 *   them back.
 * - **Rewrite**: build a new v2 log from every verified, decodable record of the old one (any
 *   version) in a temp file beside it, fsync it, optionally hard-link the old file to a backup
 *   name, rename the new one over it and fsync the directory. A crash at any point leaves either
 *   the old log or the new one, never a mix and never neither.
 */
import { closeSync, existsSync, fsyncSync, linkSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { decodeCommand } from '../../protocol/command.js';
import { HEADER_BYTES, encodeHeader, fsyncDir, recordHead, type RecordFormat } from './log-format.js';
import { rangeBytes, scanRecords, type DamagedRange } from './log-scan.js';

/** Suffix of the temp file a rewrite builds (a stale one, from a crash mid-rewrite, is deleted on open). */
export const REWRITE_SUFFIX = '.rewrite';

/** A written quarantine. */
export interface Quarantine {
  /** The file holding the damaged bytes, concatenated in log order. */
  file: string;
  /** Its JSON sidecar. */
  sidecar: string;
  bytes: number;
}

/** `2026-12-01T09-40-18.123Z`: an ISO time that is a portable file name. */
export const fileStamp = (d = new Date()): string => d.toISOString().replace(/:/g, '-');

/** A fresh, unused path `<base>-<stamp>[-n]<ext>`. */
export function freshName(base: string, ext = ''): string {
  const stem = `${base}-${fileStamp()}`;
  for (let n = 0; ; n++) {
    const p = `${stem}${n === 0 ? '' : `-${n}`}${ext}`;
    if (!existsSync(p) && !existsSync(`${p}.json`)) return p;
  }
}

/** Write `data` to a new file `path` (mode 0600) and fsync it. */
function writeNew(path: string, parts: (fd: number) => void): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    parts(fd);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Copy `ranges` of the log open as `fd` (path `log`, layout `version`) into a new quarantine. */
export function quarantine(fd: number, log: string, version: number, ranges: readonly DamagedRange[]): Quarantine {
  const file = freshName(`${log}.quarantine`);
  const sidecar = `${file}.json`;
  const buf = Buffer.allocUnsafe(64 * 1024);
  const listed: Array<DamagedRange & { quarantineOffset: number }> = [];
  writeNew(file, (out) => {
    let q = 0;
    for (const r of ranges) {
      listed.push({ ...r, quarantineOffset: q });
      for (let done = 0; done < r.length; ) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, r.length - done), r.offset + done);
        if (n === 0) break;
        for (let w = 0; w < n; ) w += writeSync(out, buf, w, n - w);
        done += n;
        q += n;
      }
    }
  });
  const meta = { log: basename(log), logVersion: version, createdAt: new Date().toISOString(), bytes: rangeBytes(ranges), ranges: listed };
  writeNew(sidecar, (out) => writeSync(out, `${JSON.stringify(meta, null, 2)}\n`));
  fsyncDir(dirname(log));
  return { file, sidecar, bytes: meta.bytes };
}

/** What a rewrite kept. */
export interface RewriteResult {
  records: number;
  /** Path the old file was linked to, when a backup was asked for. */
  backup?: string;
}

/**
 * Rebuild `log` (open as `fd`, records in `[start, end)` laid out as `fmt`) as a v2 log of its
 * verified, decodable records in file order. `backupBase`: keep the old file under
 * `<backupBase>-<time>`. The caller must close and reopen `fd` afterwards (it names the old file).
 * @throws the I/O error (the old log is then untouched; the temp file is removed).
 */
export function rewriteLog(fd: number, log: string, fmt: RecordFormat, start: number, end: number, backupBase?: string): RewriteResult {
  const tmp = log + REWRITE_SUFFIX;
  if (existsSync(tmp)) unlinkSync(tmp);
  let records = 0;
  try {
    writeNew(tmp, (out) => {
      const stage = Buffer.allocUnsafe(256 * 1024);
      let used = 0;
      let pos = 0;
      const drain = (): void => {
        for (let w = 0; w < used; ) w += writeSync(out, stage, w, used - w, pos + w);
        pos += used;
        used = 0;
      };
      encodeHeader().copy(stage, 0);
      used = HEADER_BYTES;
      scanRecords(fd, fmt, start, end, (body) => {
        try {
          decodeCommand(body);
        } catch (err) {
          return String(err);
        }
        const head = recordHead(body);
        if (used + head.length + body.length > stage.length) drain();
        head.copy(stage, used);
        stage.set(body, used + head.length);
        used += head.length + body.length;
        records++;
        return null;
      });
      drain();
    });
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to remove */
    }
    throw err;
  }
  let backup: string | undefined;
  if (backupBase !== undefined) {
    backup = freshName(backupBase);
    linkSync(log, backup);
  }
  renameSync(tmp, log);
  fsyncDir(dirname(log));
  return backup === undefined ? { records } : { records, backup };
}
