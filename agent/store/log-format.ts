/**
 * On-disk layout of `commands.log`:
 *
 * ```
 * header  = "SWLOG001" (8 B) ‖ u32 LE version ‖ u32 LE crc32(magic ‖ version)
 * record  = u32 LE length ‖ u32 LE crc32(body) ‖ body        (body = the command encoding)
 * ```
 *
 * A record is only ever appended, so a crash can leave at most a torn last record (or, on a
 * device that reorders writes, garbage after the last fsynced one); the per-record CRC finds it.
 */
import { closeSync, fsyncSync, openSync, readSync } from 'node:fs';
import { crc32 } from '../../protocol/crc32.js';
import { MAX_COMMAND_BYTES } from '../../protocol/constants.js';

/** File magic: refuses any file that is not a syncwire command log. */
export const LOG_MAGIC = Buffer.from('SWLOG001', 'latin1');
/** Layout version this code writes and reads. */
export const LOG_VERSION = 1;
/** Size of the file header. */
export const HEADER_BYTES = 16;
/** Size of a record's length + CRC prefix. */
export const RECORD_HEAD_BYTES = 8;

/** The 16-byte file header. */
export function encodeHeader(): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  LOG_MAGIC.copy(h, 0);
  h.writeUInt32LE(LOG_VERSION, 8);
  h.writeUInt32LE(crc32(h.subarray(0, 12)), 12);
  return h;
}

/**
 * Check a header read from `file`; `bytes` may be shorter than {@link HEADER_BYTES}.
 * @returns 'ok', or 'torn' when the file is a strict prefix of a valid header (a crash while
 *   creating it: nothing was ever committed, so rewriting it loses nothing).
 * @throws Error when the file is not a syncwire log or has another version.
 */
export function checkHeader(bytes: Buffer, file: string): 'ok' | 'torn' {
  const want = encodeHeader();
  if (bytes.length < HEADER_BYTES) {
    if (want.subarray(0, bytes.length).equals(bytes)) return 'torn';
    throw new Error(`${file} is not a syncwire command log (bad magic; refusing to touch it)`);
  }
  if (!bytes.subarray(0, 8).equals(LOG_MAGIC)) throw new Error(`${file} is not a syncwire command log (bad magic; refusing to touch it)`);
  const version = bytes.readUInt32LE(8);
  if (bytes.readUInt32LE(12) !== crc32(bytes.subarray(0, 12))) throw new Error(`${file}: command log header is corrupt (CRC mismatch)`);
  if (version !== LOG_VERSION) throw new Error(`${file}: command log version ${version} is not supported (expected ${LOG_VERSION})`);
  return 'ok';
}

/** Length + CRC prefix of a record holding `body`. */
export function recordHead(body: Uint8Array): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEAD_BYTES);
  h.writeUInt32LE(body.length, 0);
  h.writeUInt32LE(crc32(body), 4);
  return h;
}

/** Outcome of {@link scanLog}. */
export interface ScanResult {
  /** Offset just past the last good record: where the log should end. */
  goodEnd: number;
  /** Why scanning stopped before the file's end (undefined when the whole file was good). */
  reason?: string;
}

/**
 * Walk the records from `start` to `end`, checking length bounds and CRC, and hand each body to
 * `visit`, which returns null to accept it or a reason to stop there. Reads in 1 MiB chunks so a
 * large log never sits in memory. The body passed to `visit` is only valid during the call.
 */
export function scanLog(fd: number, start: number, end: number, visit: (body: Uint8Array, bodyOffset: number) => string | null): ScanResult {
  const chunk = Buffer.allocUnsafe(1 << 20);
  let chunkPos = start; // file offset of chunk[0]
  let have = 0;
  let pos = start;
  const ensure = (n: number): boolean => {
    if (pos + n <= chunkPos + have) return true;
    const keep = chunkPos + have - pos;
    chunk.copy(chunk, 0, pos - chunkPos, pos - chunkPos + keep);
    chunkPos = pos;
    have = keep;
    while (have < chunk.length && chunkPos + have < end) {
      const got = readSync(fd, chunk, have, Math.min(chunk.length - have, end - chunkPos - have), chunkPos + have);
      if (got === 0) break;
      have += got;
    }
    return pos + n <= chunkPos + have;
  };
  while (pos < end) {
    if (!ensure(RECORD_HEAD_BYTES)) return { goodEnd: pos, reason: `torn record head at offset ${pos}` };
    const at = pos - chunkPos;
    const len = chunk.readUInt32LE(at);
    if (len === 0 || len > MAX_COMMAND_BYTES) return { goodEnd: pos, reason: `bad record length ${len} at offset ${pos}` };
    if (!ensure(RECORD_HEAD_BYTES + len)) return { goodEnd: pos, reason: `torn record at offset ${pos} (${end - pos} of ${RECORD_HEAD_BYTES + len} bytes)` };
    const b = pos - chunkPos;
    const body = chunk.subarray(b + RECORD_HEAD_BYTES, b + RECORD_HEAD_BYTES + len);
    if (crc32(body) !== chunk.readUInt32LE(b + 4)) return { goodEnd: pos, reason: `CRC mismatch in record at offset ${pos}` };
    const bad = visit(body, pos + RECORD_HEAD_BYTES);
    if (bad !== null) return { goodEnd: pos, reason: `${bad} (record at offset ${pos})` };
    pos += RECORD_HEAD_BYTES + len;
  }
  return { goodEnd: pos };
}

/** Fsync a directory so a newly created file's entry survives power loss. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
