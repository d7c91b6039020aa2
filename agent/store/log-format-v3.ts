/**
 * Record format v3 of the per-scope logs (segments and `members.log`; docs/design/v2-scopes.md
 * §5.2):
 *
 * ```
 * header = "SWLOG001" (8) ‖ u32 LE version = 3 ‖ u32 LE crc32(first 12 bytes)
 * record = "\xd7SWR" (4) ‖ u32 LE length ‖ u32 LE time ‖ u32 LE crc32(length ‖ time ‖ body) ‖ body
 * ```
 *
 * `time` is when the host appended the record (seconds since the Unix epoch: the `days` bound of
 * retention). `body` (1..1,024 bytes) is a v2 command (first byte 0x86) or a gap marker (0x82):
 * `[0, [[id, depth]; ≤24]]`. The magic, marker and scanning rules are v2's (`log-format.ts`,
 * `log-scan.ts`), only the head is 4 bytes longer, so a v1 reader refuses a v3 file by its version.
 *
 * A command body may be one *held without its signature* (received covered in a compact batch by
 * a host with `elide` on, PROTOCOL.md §10.7): the same 6-array with `null` (0xf6) last; readers
 * decode bodies with `decodeHeldCommandV2`. No version bump: the body's first byte and the record
 * layout are unchanged, and a bump would make an older syncwire refuse every log, also the many
 * that never hold such a body. An older syncwire that opens a log with one sees an undecodable
 * command: in the last record of the last segment it quarantines and cuts it, elsewhere it
 * refuses the scope (`bad-segment`, "needs `syncwire store salvage --scope`"). Nothing false is
 * taken either way, and what salvage drops are copies the host fetches again (with signatures:
 * an older host never sets `elide`).
 */
import { crc32 } from '../../protocol/crc32.js';
import { decodeCbor, encodeCbor } from '../../protocol/cbor.js';
import { ID_BYTES, MAX_COMMAND_BYTES } from '../../protocol/constants.js';
import { MAX_DEPTH } from '../../protocol/constants-v2.js';
import { MalformedError } from '../../protocol/errors.js';
import { HEADER_BYTES, LOG_MAGIC, RECORD_MARKER, encodeHeader, type RecordCheck } from './log-format.js';
import type { RecordLayout } from './log-scan.js';
import { StoreError } from './store-errors.js';
import type { GapRecord } from './scope-store-contract.js';

/** Layout version of the per-scope logs. */
export const LOG_VERSION_V3 = 3;
/** Marker + length + time + CRC. */
export const RECORD_HEAD_BYTES_V3 = 16;
/** First byte of a command body (CBOR array of 6). */
export const BODY_COMMAND = 0x86;
/** First byte of a gap marker body (CBOR array of 2). */
export const BODY_GAP = 0x82;
/** Records a gap marker lists; the rest of a longer gap are not listed (§5.2). */
export const MAX_GAP_RECORDS = 24;

/** The 16-byte header of a v3 log. */
export const headerV3 = (): Buffer => encodeHeader(LOG_VERSION_V3);

/**
 * Check the header of a v3 log; `bytes` may be shorter than {@link HEADER_BYTES}.
 * @returns 3, or 'torn' when `bytes` is a strict prefix of the header (a crash while creating
 *   the file: nothing was committed, rewriting it loses nothing).
 * @throws StoreError 'not-a-log', 'bad-header' or 'unsupported-version' (exit status 78).
 */
export function checkHeaderV3(bytes: Buffer, file: string): 3 | 'torn' {
  if (bytes.length < HEADER_BYTES) {
    if (headerV3().subarray(0, bytes.length).equals(bytes)) return 'torn';
    throw new StoreError('not-a-log', file, `${file} is not a syncwire scope log (bad magic; refusing to touch it)`);
  }
  if (!bytes.subarray(0, 8).equals(LOG_MAGIC)) throw new StoreError('not-a-log', file, `${file} is not a syncwire scope log (bad magic; refusing to touch it)`);
  const crc = crc32(bytes.subarray(0, 12));
  if (bytes.readUInt32LE(12) !== crc) throw new StoreError('bad-header', file, `${file}: scope log header is corrupt (CRC mismatch)`);
  const version = bytes.readUInt32LE(8);
  if (version !== LOG_VERSION_V3) throw new StoreError('unsupported-version', file, `${file}: scope log version ${version} is not supported (this syncwire reads 3)`);
  return LOG_VERSION_V3;
}

/** The v3 head of a record holding `body`, appended at `timeS`. */
export function recordHeadV3(body: Uint8Array, timeS: number): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEAD_BYTES_V3);
  RECORD_MARKER.copy(h, 0);
  h.writeUInt32LE(body.length, 4);
  h.writeUInt32LE(timeS >>> 0, 8);
  h.writeUInt32LE(crc32(body, crc32(h.subarray(4, 12))), 12);
  return h;
}

/**
 * The `time` of a record whose `body` the scanner handed to a visitor: the body is a view into
 * the scan window, which holds the whole verified record, so its head lies just before it.
 */
export function scannedTimeOf(body: Uint8Array): number {
  return new DataView(body.buffer, body.byteOffset - 8, 4).getUint32(0, true);
}

/** Version 3 as the scanner reads it. */
export const FORMAT_V3: RecordLayout = {
  headBytes: RECORD_HEAD_BYTES_V3,
  check(buf, at, avail, eof): RecordCheck {
    const have = avail - at;
    const m = Math.min(have, 4);
    if (!buf.subarray(at, at + m).equals(RECORD_MARKER.subarray(0, m))) return { kind: 'bad', why: 'no record marker' };
    if (have < RECORD_HEAD_BYTES_V3) return eof ? { kind: 'torn' } : { kind: 'bad', why: 'short buffer' };
    const len = buf.readUInt32LE(at + 4);
    if (len === 0 || len > MAX_COMMAND_BYTES) return { kind: 'bad', why: `bad record length ${len}` };
    if (have < RECORD_HEAD_BYTES_V3 + len) return eof ? { kind: 'torn' } : { kind: 'bad', why: 'short buffer' };
    const body = buf.subarray(at + RECORD_HEAD_BYTES_V3, at + RECORD_HEAD_BYTES_V3 + len);
    if (crc32(body, crc32(buf.subarray(at + 4, at + 12))) !== buf.readUInt32LE(at + 12)) return { kind: 'bad', why: 'CRC mismatch' };
    return { kind: 'ok', head: RECORD_HEAD_BYTES_V3, len };
  },
  nextCandidate(buf, from, avail) {
    return buf.subarray(0, avail).indexOf(RECORD_MARKER[0]!, from);
  },
};

/** The body of a gap marker listing the first {@link MAX_GAP_RECORDS} of `records`. */
export function encodeGapMarker(records: readonly GapRecord[]): Uint8Array {
  return encodeCbor([0, records.slice(0, MAX_GAP_RECORDS).map((r) => [r.id, r.depth])]);
}

/** The records of a gap marker body. @throws MalformedError when it is not `[0, [[id, depth]…]]`. */
export function decodeGapMarker(body: Uint8Array): GapRecord[] {
  const v = decodeCbor(body, MAX_COMMAND_BYTES, 3);
  if (!Array.isArray(v) || v.length !== 2 || v[0] !== 0 || !Array.isArray(v[1]) || v[1].length > MAX_GAP_RECORDS) {
    throw new MalformedError('gap marker is not [0, [[id, depth]; ≤24]]');
  }
  return v[1].map((r) => {
    if (!Array.isArray(r) || r.length !== 2) throw new MalformedError('gap record is not [id, depth]');
    const [id, depth] = r;
    if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) throw new MalformedError('gap record id is not 32 bytes');
    if (typeof depth !== 'number' || !Number.isInteger(depth) || depth < 0 || depth > MAX_DEPTH) throw new MalformedError('gap record depth out of range');
    return { id, depth };
  });
}
