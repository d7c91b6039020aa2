/**
 * What `syncwire store check` reports for a protocol-2 data directory: each scope directory
 * (`scopes/<id>/`, scope-dir.ts) inspected read-only — its `members.log` and every segment
 * (record format v3, log-format-v3.ts) scanned with the resynchronising scanner, its
 * `horizon.bin` decoded — with a verdict per scope on the scale `store check` uses for
 * `commands.log` (log-salvage.ts): intact, damaged, unsupported (a newer syncwire's layout).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeHeldCommandV2 } from '../../protocol/command-v2.js';
import { decodeGenesisBody } from '../../protocol/genesis.js';
import { fromHex, toHex } from '../../protocol/keys.js';
import { decodeHorizonFile, HORIZON_FILE } from './horizon-file.js';
import { HEADER_BYTES } from './log-format.js';
import { BODY_GAP, FORMAT_V3, checkHeaderV3, decodeGapMarker } from './log-format-v3.js';
import { rangeBytes, scanRecords, type DamagedRange, type ScanResult } from './log-scan.js';
import { MEMBERS_FILE } from './members-log.js';
import { SCOPES_DIR, readGenesis } from './scope-dir.js';
import { SEGMENT_PATTERN } from './segment-log.js';
import { StoreError } from './store-errors.js';

/** Verdicts, worst last: a data directory's is its worst scope's. */
export type CheckVerdict = 'intact' | 'damaged' | 'unsupported' | 'missing';
const RANK: Record<CheckVerdict, number> = { missing: 0, intact: 1, damaged: 2, unsupported: 3 };

/** The worse of two verdicts (unsupported > damaged > intact > missing). */
export const worse = (a: CheckVerdict, b: CheckVerdict): CheckVerdict => (RANK[b] > RANK[a] ? b : a);

/** One v3 record file of a scope, inspected. */
export interface RecordFileCheck {
  /** File name inside the scope directory. */
  file: string;
  size: number;
  header: 'ok' | 'torn' | 'not-a-log' | 'bad-header' | 'unsupported-version';
  /** Verified records that decode: commands and gap markers. */
  records: number;
  /** Of those, commands (what gets a handle). */
  commands: number;
  damaged: DamagedRange[];
  damagedBytes: number;
  /** An incomplete last record (cut on the next open: never an acknowledged command). */
  torn?: { offset: number; length: number };
  verdict: Exclude<CheckVerdict, 'missing'>;
}

/** One scope directory, inspected. */
export interface ScopeCheck {
  /** 64 hex: the directory's name. */
  id: string;
  /** From its genesis; null when the genesis cannot be read. */
  name: string | null;
  dir: string;
  /** `members.log` then the segments in handle order (`seg-<first>.log`). */
  files: RecordFileCheck[];
  /** First handle of each segment, in `files` order after `members.log`. */
  firsts: number[];
  /** `horizon.bin`: absent (nothing pruned), ok with its base, or damaged (why). */
  horizon: { state: 'absent' } | { state: 'ok'; base: number; pinned: number } | { state: 'damaged'; why: string };
  /** Commands in the segments. */
  commands: number;
  verdict: Exclude<CheckVerdict, 'missing'>;
}

/** A verified, decodable v3 record handed to a {@link scanV3} visitor (valid only during the call). */
export type V3Visitor = (body: Uint8Array, isCommand: boolean) => void;

/**
 * Scan the v3 record file open as `fd` from `start` (0 when its header is bad: records are found
 * by their markers), counting the records that decode (commands of `scopeId`, gap markers).
 */
export function scanV3(fd: number, size: number, start: number, scopeId: Uint8Array, visit?: V3Visitor): ScanResult & { commands: number } {
  let commands = 0;
  const scan = scanRecords(fd, FORMAT_V3, Math.min(start, size), size, (body) => {
    let isCommand = false;
    try {
      if (body[0] === BODY_GAP) decodeGapMarker(body);
      else {
        decodeHeldCommandV2(scopeId, body);
        isCommand = true;
      }
    } catch (err) {
      return `undecodable: ${(err as Error).message}`;
    }
    if (isCommand) commands++;
    visit?.(body, isCommand);
    return null;
  });
  return { ...scan, commands };
}

/** The header state of the v3 record file open as `fd`. @throws only on I/O errors. */
export function headerStateV3(fd: number, size: number, path: string): RecordFileCheck['header'] {
  const head = Buffer.alloc(Math.min(size, HEADER_BYTES));
  readSync(fd, head, 0, head.length, 0);
  try {
    return checkHeaderV3(head, path) === 'torn' ? 'torn' : 'ok';
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    return err.reason === 'unsupported-version' ? 'unsupported-version' : err.reason === 'bad-header' ? 'bad-header' : 'not-a-log';
  }
}

/** Inspect one v3 record file read-only; `scopeId` checks that commands belong to the scope. */
export function inspectRecordFile(path: string, name: string, scopeId: Uint8Array): RecordFileCheck {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const header = headerStateV3(fd, size, path);
    const base = { file: name, size, header, records: 0, commands: 0, damaged: [] as DamagedRange[], damagedBytes: 0 };
    if (header === 'torn') return { ...base, verdict: 'intact' };
    if (header === 'unsupported-version') return { ...base, verdict: 'unsupported' };
    const scan = scanV3(fd, size, header === 'ok' ? HEADER_BYTES : 0, scopeId);
    return {
      ...base,
      records: scan.records,
      commands: scan.commands,
      damaged: scan.damaged,
      damagedBytes: rangeBytes(scan.damaged),
      ...(scan.torn ? { torn: scan.torn } : {}),
      verdict: header !== 'ok' || scan.damaged.length > 0 ? 'damaged' : 'intact',
    };
  } finally {
    closeSync(fd);
  }
}

/** Inspect the scope directory `dir` (named by its 64-hex id) read-only. */
export function inspectScopeDir(dir: string, idHex: string): ScopeCheck {
  const scopeId = fromHex(idHex);
  let name: string | null = null;
  try {
    const g = readGenesis(dir);
    if (toHex(g.id) === idHex) name = decodeGenesisBody(g.payload).name;
  } catch {
    /* reported through members.log's check below */
  }
  const files: RecordFileCheck[] = [];
  const membersPath = join(dir, MEMBERS_FILE);
  if (existsSync(membersPath)) files.push(inspectRecordFile(membersPath, MEMBERS_FILE, scopeId));
  else files.push({ file: MEMBERS_FILE, size: 0, header: 'not-a-log', records: 0, commands: 0, damaged: [{ offset: 0, length: 0, reason: 'missing' }], damagedBytes: 0, verdict: 'damaged' });
  const firsts = readdirSync(dir)
    .map((n) => SEGMENT_PATTERN.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  let commands = 0;
  for (const first of firsts) {
    const seg = `seg-${String(first).padStart(20, '0')}.log`;
    const c = inspectRecordFile(join(dir, seg), seg, scopeId);
    commands += c.commands;
    files.push(c);
  }
  let horizon: ScopeCheck['horizon'] = { state: 'absent' };
  const hz = join(dir, HORIZON_FILE);
  if (existsSync(hz)) {
    try {
      const s = decodeHorizonFile(readFileSync(hz), hz);
      horizon = { state: 'ok', base: s.base, pinned: s.pinnedHeads.length + s.pinnedMembers.length };
    } catch (err) {
      horizon = { state: 'damaged', why: (err as Error).message };
    }
  }
  let verdict: ScopeCheck['verdict'] = name === null ? 'damaged' : 'intact';
  for (const f of files) verdict = worse(verdict, f.verdict) as ScopeCheck['verdict'];
  if (horizon.state === 'damaged') verdict = worse(verdict, 'damaged') as ScopeCheck['verdict'];
  return { id: idHex, name, dir, files, firsts, horizon, commands, verdict };
}

/** Every scope directory of `dataDir` (`legacy-v1` excluded: it is a v1 log), inspected. */
export function inspectScopes(dataDir: string): ScopeCheck[] {
  const root = join(dataDir, SCOPES_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => /^[0-9a-f]{64}$/.test(n))
    .sort()
    .map((n) => inspectScopeDir(join(root, n), n));
}
