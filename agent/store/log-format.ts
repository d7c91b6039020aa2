/**
 * On-disk layout of `commands.log`, version 2:
 *
 * ```
 * header  = "SWLOG001" (8 B) ‖ u32 LE version (2) ‖ u32 LE crc32(magic ‖ version)
 * record  = marker "\xd7SWR" (4 B) ‖ u32 LE length ‖ u32 LE crc32(length ‖ body) ‖ body
 * ```
 *
 * `body` is the command encoding (1..MAX_COMMAND_BYTES bytes). The marker makes records
 * self-delimiting: after damage a reader scans forward for the next marker whose length and CRC
 * verify, so one bad record costs only the bytes it overlaps. The CRC covers the length, so a
 * damaged length cannot send the reader to a wrong place that happens to verify. A false match
 * needs the 4-byte marker, an in-range length and a matching CRC-32 at once (about 2^-64 a byte
 * of damage).
 *
 * Version 1 (read only, upgraded on open): `record = u32 LE length ‖ u32 LE crc32(body) ‖ body`.
 *
 * A record is only ever appended, so a crash can leave at most a torn last record (or, on a
 * device that reorders writes, garbage after the last fsynced one).
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { crc32 } from '../../protocol/crc32.js';
import { MAX_COMMAND_BYTES } from '../../protocol/constants.js';
import { StoreError } from './store-errors.js';

/** File magic: refuses any file that is not a syncwire command log. */
export const LOG_MAGIC = Buffer.from('SWLOG001', 'latin1');
/** Layout version this code writes. */
export const LOG_VERSION = 2;
/** Versions this code reads (1 is upgraded to 2 on open). */
export type LogVersion = 1 | 2;
/** Size of the file header. */
export const HEADER_BYTES = 16;
/** Start of every v2 record. */
export const RECORD_MARKER = Buffer.from([0xd7, 0x53, 0x57, 0x52]);
/** Size of a v2 record's marker + length + CRC prefix. */
export const RECORD_HEAD_BYTES = 12;
/** Size of a v1 record's length + CRC prefix. */
export const V1_RECORD_HEAD_BYTES = 8;

/** The 16-byte file header of `version` (default: the one written). */
export function encodeHeader(version: number = LOG_VERSION): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  LOG_MAGIC.copy(h, 0);
  h.writeUInt32LE(version, 8);
  h.writeUInt32LE(crc32(h.subarray(0, 12)), 12);
  return h;
}

/**
 * Check a header read from `file`; `bytes` may be shorter than {@link HEADER_BYTES}.
 * @returns the version, or 'torn' when the file is a strict prefix of a valid header (a crash
 *   while creating it: nothing was ever committed, so rewriting it loses nothing).
 * @throws StoreError 'not-a-log', 'bad-header' or 'unsupported-version' (exit status 78).
 */
export function checkHeader(bytes: Buffer, file: string): LogVersion | 'torn' {
  if (bytes.length < HEADER_BYTES) {
    if (encodeHeader().subarray(0, bytes.length).equals(bytes)) return 'torn';
    if (bytes.length <= 8 && LOG_MAGIC.subarray(0, bytes.length).equals(bytes)) return 'torn';
    throw notALog(file);
  }
  if (!bytes.subarray(0, 8).equals(LOG_MAGIC)) throw notALog(file);
  const version = bytes.readUInt32LE(8);
  if (bytes.readUInt32LE(12) !== crc32(bytes.subarray(0, 12))) {
    throw new StoreError('bad-header', file, `${file}: command log header is corrupt (CRC mismatch); run \`syncwire store salvage\` to rebuild it from its records`);
  }
  if (version !== 1 && version !== 2) {
    throw new StoreError('unsupported-version', file, `${file}: command log version ${version} is not supported (this syncwire reads 1 and 2); it was written by a newer syncwire`);
  }
  return version;
}

function notALog(file: string): StoreError {
  return new StoreError('not-a-log', file, `${file} is not a syncwire command log (bad magic; refusing to touch it); move it away, or try \`syncwire store salvage\``);
}

/** The v2 prefix of a record holding `body`. */
export function recordHead(body: Uint8Array): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEAD_BYTES);
  RECORD_MARKER.copy(h, 0);
  h.writeUInt32LE(body.length, 4);
  h.writeUInt32LE(crc32(body, crc32(h.subarray(4, 8))), 8);
  return h;
}

/** What a reader finds at one offset. */
export type RecordCheck =
  /** A record verifies: its body is `len` bytes after a `head`-byte prefix. */
  | { kind: 'ok'; head: number; len: number }
  /** A plausible record start whose bytes run past the end of the file. */
  | { kind: 'torn' }
  | { kind: 'bad'; why: string };

/**
 * One record layout: how to check a record at `at` in `buf` (valid up to `avail`; `eof` says
 * `avail` is the end of the file) and where the next candidate start after `from` may be.
 */
export interface RecordFormat {
  version: LogVersion;
  headBytes: number;
  check(buf: Buffer, at: number, avail: number, eof: boolean): RecordCheck;
  /** First offset ≥ `from` (< `avail`) that could start a record, or -1 when none in the buffer. */
  nextCandidate(buf: Buffer, from: number, avail: number): number;
}

const badLength = (len: number): boolean => len === 0 || len > MAX_COMMAND_BYTES;

/** Version 2: marker, length, CRC over length and body. */
export const FORMAT_V2: RecordFormat = {
  version: 2,
  headBytes: RECORD_HEAD_BYTES,
  check(buf, at, avail, eof) {
    const have = avail - at;
    const m = Math.min(have, 4);
    if (!buf.subarray(at, at + m).equals(RECORD_MARKER.subarray(0, m))) return { kind: 'bad', why: 'no record marker' };
    if (have < RECORD_HEAD_BYTES) return eof ? { kind: 'torn' } : { kind: 'bad', why: 'short buffer' };
    const len = buf.readUInt32LE(at + 4);
    if (badLength(len)) return { kind: 'bad', why: `bad record length ${len}` };
    if (have < RECORD_HEAD_BYTES + len) return eof ? { kind: 'torn' } : { kind: 'bad', why: 'short buffer' };
    const crc = crc32(buf.subarray(at + RECORD_HEAD_BYTES, at + RECORD_HEAD_BYTES + len), crc32(buf.subarray(at + 4, at + 8)));
    if (crc !== buf.readUInt32LE(at + 8)) return { kind: 'bad', why: 'CRC mismatch' };
    return { kind: 'ok', head: RECORD_HEAD_BYTES, len };
  },
  nextCandidate(buf, from, avail) {
    // Only the marker's first byte: a marker cut by the window's end is checked after a reload.
    return buf.subarray(0, avail).indexOf(RECORD_MARKER[0]!, from);
  },
};

/** Version 1: length and CRC of the body only; any offset may start a record. */
export const FORMAT_V1: RecordFormat = {
  version: 1,
  headBytes: V1_RECORD_HEAD_BYTES,
  check(buf, at, avail, eof) {
    const have = avail - at;
    if (have < V1_RECORD_HEAD_BYTES) return eof ? { kind: 'torn' } : { kind: 'bad', why: 'short buffer' };
    const len = buf.readUInt32LE(at);
    if (badLength(len)) return { kind: 'bad', why: `bad record length ${len}` };
    if (have < V1_RECORD_HEAD_BYTES + len) return eof ? { kind: 'torn' } : { kind: 'bad', why: 'short buffer' };
    const body = buf.subarray(at + V1_RECORD_HEAD_BYTES, at + V1_RECORD_HEAD_BYTES + len);
    if (crc32(body) !== buf.readUInt32LE(at + 4)) return { kind: 'bad', why: 'CRC mismatch' };
    return { kind: 'ok', head: V1_RECORD_HEAD_BYTES, len };
  },
  nextCandidate(_buf, from, avail) {
    return from < avail ? from : -1;
  },
};

/** The reader of `version`. */
export const formatOf = (version: LogVersion): RecordFormat => (version === 1 ? FORMAT_V1 : FORMAT_V2);

/** Fsync a directory so a newly created or renamed file's entry survives power loss. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
