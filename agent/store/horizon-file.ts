/**
 * `horizon.bin` of a scope directory (docs/design/v2-scopes.md §5.3):
 *
 * ```
 * file = "SWHZN001" ‖ u32 LE length ‖ u32 LE crc32(body) ‖ body
 * body = [base, pinned_heads, entries, pinned_members, pruned_seqs]
 *        pinned_heads   = [uint32]                    retained data commands below base
 *        entries        = [[id, depth, frontier]]     the horizon (frontier: [id], ascending)
 *        pinned_members = [[uint32, bool]]            membership commands below base, and whether each is a head
 *        pruned_seqs    = [[author, uint32]]          highest seq of each author among pruned commands (8-byte fingerprints, ascending)
 * ```
 *
 * `pinned_members` is this implementation's addition to the design's three elements: it lets a
 * segment wholly below base be deleted even when it holds a membership command (whose bytes are
 * then read from `members.log`, its handle from here), and keeps a membership command whose
 * children were all pruned from reappearing as a head on open. `pruned_seqs` is the second
 * (design §11.3 "local seq after a restart"): a local author's next seq continues above its pruned
 * commands. A file of four elements (written before it) reads as no pruned seqs.
 *
 * Replaced atomically: written to `horizon.bin.tmp`, fsynced, renamed over `horizon.bin`, and
 * the directory fsynced; a crash leaves the old file or the new one.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCbor, encodeCbor, type CborValue } from '../../protocol/cbor.js';
import { crc32 } from '../../protocol/crc32.js';
import { AUTHOR_BYTES, ID_BYTES } from '../../protocol/constants.js';
import { MAX_DEPTH, MAX_FRONTIER } from '../../protocol/constants-v2.js';
import { fsyncDir } from './log-format.js';
import type { HorizonEntry } from './scope-store-contract.js';
import { ScopeStoreError } from './scope-store-errors.js';

/** File name inside a scope directory. */
export const HORIZON_FILE = 'horizon.bin';
/** Magic of `horizon.bin`. */
export const HORIZON_MAGIC = Buffer.from('SWHZN001', 'latin1');
const HEAD_BYTES = 16;
/** A sanity cap on the body: far above any real horizon, below any accident. */
const MAX_BODY_BYTES = 64 << 20;

/** What `horizon.bin` holds. */
export interface HorizonState {
  base: number;
  pinnedHeads: number[];
  entries: HorizonEntry[];
  pinnedMembers: Array<[number, boolean]>;
  /** Highest seq per author (fingerprint) among pruned commands. */
  prunedSeqs: Array<[Uint8Array, number]>;
}

/** The state of a scope nothing was ever pruned from. */
export const EMPTY_HORIZON: Readonly<HorizonState> = { base: 0, pinnedHeads: [], entries: [], pinnedMembers: [], prunedSeqs: [] };

/** The whole file for `s`. */
export function encodeHorizonFile(s: HorizonState): Buffer {
  const body = encodeCbor([s.base, s.pinnedHeads, s.entries.map((e) => [e.id, e.depth, e.frontier]), s.pinnedMembers.map(([h, head]) => [h, head]), s.prunedSeqs.map(([a, q]) => [a, q])]);
  const head = Buffer.alloc(HEAD_BYTES);
  HORIZON_MAGIC.copy(head, 0);
  head.writeUInt32LE(body.length, 8);
  head.writeUInt32LE(crc32(body), 12);
  return Buffer.concat([head, body]);
}

/** Parse a whole file. @throws ScopeStoreError 'bad-horizon' naming `path` and what is wrong. */
export function decodeHorizonFile(bytes: Uint8Array, path: string): HorizonState {
  const bad = (why: string): ScopeStoreError => new ScopeStoreError('bad-horizon', path, `${path}: ${why}; run \`syncwire store salvage --scope\` to rebuild it from the segments`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < HEAD_BYTES || !b.subarray(0, 8).equals(HORIZON_MAGIC)) throw bad('not a horizon file (bad magic or too short)');
  const len = b.readUInt32LE(8);
  if (len !== b.length - HEAD_BYTES || len > MAX_BODY_BYTES) throw bad(`length ${len} does not match the file (${b.length - HEAD_BYTES} bytes)`);
  const body = b.subarray(HEAD_BYTES);
  if (crc32(body) !== b.readUInt32LE(12)) throw bad('CRC mismatch');
  let v: CborValue;
  try {
    v = decodeCbor(body, MAX_BODY_BYTES, 4);
  } catch (err) {
    throw bad(`undecodable body (${(err as Error).message})`);
  }
  const uint = (x: CborValue | undefined): number => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 0xffffffff) throw bad('a handle is not a uint32');
    return x;
  };
  const id = (x: CborValue | undefined): Uint8Array => {
    if (!(x instanceof Uint8Array) || x.length !== ID_BYTES) throw bad('an id is not 32 bytes');
    return x;
  };
  const list = (x: CborValue | undefined): CborValue[] => {
    if (!Array.isArray(x)) throw bad('body is not [base, pinned_heads, entries, pinned_members]');
    return x;
  };
  const top = list(v);
  if (top.length !== 4 && top.length !== 5) throw bad('body is not [base, pinned_heads, entries, pinned_members, pruned_seqs]');
  const entries = list(top[2]).map((e) => {
    const [i, depth, frontier] = list(e);
    if (typeof depth !== 'number' || !Number.isInteger(depth) || depth < 1 || depth > MAX_DEPTH) throw bad('an entry depth is out of range');
    const f = list(frontier).map(id);
    if (f.length > MAX_FRONTIER) throw bad('an entry frontier is longer than 16');
    return { id: id(i), depth, frontier: f };
  });
  const pinnedMembers = list(top[3]).map((p): [number, boolean] => {
    const [h, head] = list(p);
    if (typeof head !== 'boolean') throw bad('a pinned member is not [handle, head]');
    return [uint(h), head];
  });
  const prunedSeqs = top.length === 4 ? [] : list(top[4]).map((p): [Uint8Array, number] => {
    const [a, q] = list(p);
    if (!(a instanceof Uint8Array) || a.length !== AUTHOR_BYTES) throw bad('a pruned seq is not [author, seq]');
    return [a, uint(q)];
  });
  return { base: uint(top[0]), pinnedHeads: list(top[1]).map(uint), entries, pinnedMembers, prunedSeqs };
}

/** Read `<dir>/horizon.bin`; the empty state when absent. @throws ScopeStoreError 'bad-horizon'. */
export function readHorizonFile(dir: string): HorizonState {
  const path = join(dir, HORIZON_FILE);
  if (existsSync(path + '.tmp')) unlinkSync(path + '.tmp'); // an unfinished replace: the old file stands
  if (!existsSync(path)) return { ...EMPTY_HORIZON, pinnedHeads: [], entries: [], pinnedMembers: [], prunedSeqs: [] };
  return decodeHorizonFile(readFileSync(path), path);
}

/** Replace `<dir>/horizon.bin` atomically with `s` (tmp, fsync, rename, fsync dir). */
export function writeHorizonFile(dir: string, s: HorizonState): void {
  const path = join(dir, HORIZON_FILE);
  const tmp = path + '.tmp';
  const bytes = encodeHorizonFile(s);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dir);
}
