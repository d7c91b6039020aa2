/**
 * `syncwire store salvage` for one scope directory (docs/design/v2-scopes.md §5.2–§5.3): each
 * damaged segment is rebuilt from its verified records as log-salvage.ts rebuilds a v1 log —
 * damaged bytes to `<segment>.quarantine-<time>` (+ `.json` naming offsets), the original kept as
 * `<segment>.salvage-backup-<time>`, the new file renamed over it — and a damaged `horizon.bin`
 * is set aside (`horizon.bin.salvage-backup-<time>`), so the scope opens as base 0 from the
 * segments present.
 *
 * Handles are positions in the segments, so the commands lost in a segment would shift the ones
 * after it: the later segments are renamed to their new first handles (ascending, so no name is
 * taken twice). Cursors past the damage then name other handles; their id prefix makes the API
 * answer 410, never a silent skip (as after a v1 salvage). What salvage refuses, leaving the
 * directory untouched: a scope whose pruned history (`horizon.bin` base or pins) lies past the
 * damage, a damaged `horizon.bin` once segments were deleted, and a damaged `members.log` (the
 * scope's membership: remove the directory and let peers resend the scope). The caller holds the
 * data directory's lock.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex } from '../../protocol/keys.js';
import { HORIZON_FILE, readHorizonFile } from './horizon-file.js';
import { HEADER_BYTES, fsyncDir } from './log-format.js';
import { headerV3, recordHeadV3, scannedTimeOf } from './log-format-v3.js';
import { freshName, quarantine, REWRITE_SUFFIX, type Quarantine } from './log-rewrite.js';
import { headerStateV3, inspectScopeDir, scanV3, type ScopeCheck } from './scope-check.js';
import { ScopeStoreError } from './scope-store-errors.js';
import { segmentName } from './segment-log.js';
import { StoreError } from './store-errors.js';

/** One segment rebuilt by {@link salvageScopeDir}. */
export interface SegmentSalvage {
  file: string;
  /** Records (commands and gap markers) in the rebuilt segment. */
  records: number;
  commands: number;
  quarantine?: Quarantine;
  backup: string;
}

/** Result of {@link salvageScopeDir}. */
export interface ScopeSalvage {
  before: ScopeCheck;
  /** False when nothing needed doing. */
  rebuilt: boolean;
  segments: SegmentSalvage[];
  /** Segments renamed to their new first handle. */
  renamed: Array<{ from: string; to: string }>;
  /** Where the damaged `horizon.bin` was moved (the scope then opens as base 0). */
  horizonBackup?: string;
}

/** Rebuild the segment `path` from its verified records (see the module comment). */
function rebuildSegment(path: string, scopeId: Uint8Array): SegmentSalvage & { lost?: number } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const header = headerStateV3(fd, size, path);
    const tmp = path + REWRITE_SUFFIX;
    if (existsSync(tmp)) unlinkSync(tmp);
    const out = openSync(tmp, 'wx', 0o600);
    let scan;
    try {
      const h = headerV3();
      writeSync(out, h, 0, h.length, 0);
      let pos = h.length;
      scan = scanV3(fd, size, header === 'ok' ? HEADER_BYTES : 0, scopeId, (body) => {
        const rec = Buffer.concat([recordHeadV3(body, scannedTimeOf(body)), body]);
        for (let w = 0; w < rec.length; ) w += writeSync(out, rec, w, rec.length - w, pos + w);
        pos += rec.length;
      });
      fsyncSync(out);
    } catch (err) {
      closeSync(out);
      unlinkSync(tmp);
      throw err;
    }
    closeSync(out);
    const q = scan.damaged.length > 0 ? quarantine(fd, path, 3, scan.damaged) : undefined;
    const backup = freshName(`${path}.salvage-backup`);
    linkSync(path, backup);
    renameSync(tmp, path);
    return { file: path, records: scan.records, commands: scan.commands, backup, ...(q ? { quarantine: q } : {}) };
  } finally {
    closeSync(fd);
  }
}

/**
 * Salvage the scope directory `dir` (named by its 64-hex id); see the module comment.
 * @throws StoreError 'unsupported-version' (a newer syncwire's file is never rewritten),
 *   ScopeStoreError 'bad-segment' / 'bad-horizon' for what salvage refuses (exit 78).
 */
export function salvageScopeDir(dir: string, idHex: string): ScopeSalvage {
  const before = inspectScopeDir(dir, idHex);
  const none: ScopeSalvage = { before, rebuilt: false, segments: [], renamed: [] };
  if (before.verdict === 'intact') return none;
  const unsupported = before.files.find((f) => f.verdict === 'unsupported');
  if (unsupported) throw new StoreError('unsupported-version', join(dir, unsupported.file), `${join(dir, unsupported.file)}: written by a newer syncwire; salvaging would downgrade it — run the newer syncwire`);
  const members = before.files[0]!;
  if (members.verdict !== 'intact' || before.name === null) {
    throw new ScopeStoreError('bad-segment', dir, `${dir}: members.log is damaged (${members.damaged.map((d) => d.reason).join(', ') || 'no genesis'}); salvage cannot rebuild a scope's membership: move the directory away and let peers resend the scope`);
  }
  const segs = before.files.slice(1);
  const damagedAt = segs.findIndex((f) => f.verdict === 'damaged');
  const hz = before.horizon;
  // A damaged segment other than the last may renumber what follows it: pruned state past it would name other commands.
  if (damagedAt >= 0 && damagedAt < segs.length - 1 && hz.state === 'ok') {
    const from = before.firsts[damagedAt]!;
    const s = readHorizonFile(dir);
    if (s.base > from || s.pinnedHeads.some((h) => h >= from) || s.pinnedMembers.some(([h]) => h >= from)) {
      throw new ScopeStoreError('bad-segment', dir, `${dir}: segment ${segs[damagedAt]!.file} is damaged below the scope's pruned history (base ${s.base}); salvage cannot renumber it: move the directory away and let peers resend the scope`);
    }
  }
  if (hz.state === 'damaged' && before.firsts[0] !== 0) {
    throw new ScopeStoreError('bad-horizon', dir, `${dir}: horizon.bin is damaged and segments below handle ${before.firsts[0]} were pruned; it cannot be rebuilt: move the directory away and let peers resend the scope`);
  }
  const scopeId = fromHex(idHex);
  const out: ScopeSalvage = { before, rebuilt: true, segments: [], renamed: [] };
  // New first handles: a rebuilt segment spans the commands it kept.
  let next = before.firsts[0] ?? 0;
  segs.forEach((f, i) => {
    const first = before.firsts[i]!;
    const path = join(dir, f.file);
    let span = i + 1 < segs.length ? before.firsts[i + 1]! - first : 0;
    if (f.verdict === 'damaged') {
      const r = rebuildSegment(path, scopeId);
      out.segments.push(r);
      span = r.commands;
    }
    if (next !== first) {
      const to = join(dir, segmentName(next));
      renameSync(path, to);
      out.renamed.push({ from: path, to });
    }
    next += span;
  });
  if (hz.state === 'damaged') {
    const path = join(dir, HORIZON_FILE);
    out.horizonBackup = freshName(`${path}.salvage-backup`);
    renameSync(path, out.horizonBackup);
  }
  fsyncDir(dir);
  return out;
}
