/**
 * Compact batches (PROTOCOL.md §10.7, docs/design/bulk-sync.md §2): a run of v2
 * commands of one scope encoded relative to the batch — parents that are earlier commands of the
 * batch as indices, authors as indices into a table, seqs as deltas per author, a linear chain of
 * one author as one *run* — from which the receiver rebuilds each command's exact canonical
 * unsigned encoding and so its id (P§5.2). A signature may be `null` (covered, §3 of the design):
 * which commands a signature covers is batch-cover.ts's business; this file only encodes and
 * decodes.
 *
 * ```
 * batch = [authors, entries]      authors: [bytes[8]; 1..64], each once
 * entry = [parents, author, seq, kind, payload, signature]            one command
 * run   = [parents, author, seq, kind, [payload; 2..], signature, 0]   a chain of one author
 * parent = uint (index of an earlier command of the batch) | bytes[32] (an id)
 * seq    = the seq itself for an author's first command in the batch, else the delta from the
 *          author's previous command (may be negative)
 * ```
 * Indices number commands, not entries (a run of n counts n).
 */
import { decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import { compareBytes } from './command.js';
import { commandIdV2, unsignedInto, type CommandV2, type UnsignedCommandV2 } from './command-v2.js';
import { AUTHOR_BYTES, ID_BYTES, MAX_COMMAND_BYTES, MAX_PARENTS, SIGNATURE_BYTES } from './constants.js';
import { CommandKind, type CommandKindValue } from './constants-v2.js';
import { equalBytes } from './bytes.js';
import { MalformedError, TooLargeError } from './errors.js';
import { toHex } from './keys.js';

/** Most authors one batch may name. */
export const MAX_BATCH_AUTHORS = 64;
/** Bytes a v2 signature adds to an unsigned encoding: head `58 40` + 64 bytes. */
const SIGNATURE_TAIL = SIGNATURE_BYTES + 2;
/** A command's head (a 6-array) and a covered command's sixth element (`null`). */
const COMMAND_HEAD = 0x86;
const NULL_SIGNATURE = 0xf6;
const MAX_SEQ = 0xffffffff;

/** One command to put into a batch: the command, and whether its signature is left out (covered). */
export interface BatchInput {
  command: CommandV2;
  elide: boolean;
}

/** One command rebuilt from a batch. */
export interface BatchCommand extends UnsignedCommandV2 {
  /** The id, computed with the scope id the batch was decoded for. */
  id: Uint8Array;
  /**
   * The command's encoding (§5.1): the 6-array with its signature, or its held form ending in
   * `null` when covered. Its own buffer: `payload` and `signature` are views of it.
   */
  bytes: Uint8Array;
  /** The signature, or null when covered. */
  signature: Uint8Array | null;
  /** Index of the author in the batch's author table. */
  authorIndex: number;
  /** Indices of the parents that are earlier commands of the batch. */
  localParents: number[];
}

/**
 * Encode commands (in causal order: every in-batch parent before its child) as one batch.
 * Consecutive commands of one author forming a chain (each one's only parent the previous, seq + 1,
 * same kind, every one but the last elided) become a run.
 * @throws MalformedError for more than 64 authors, or an input not in causal order (a parent that
 *   is a later command of the batch).
 */
export function encodeBatch(inputs: readonly BatchInput[]): Uint8Array {
  const authors: Uint8Array[] = [];
  const authorIndex = new Map<string, number>();
  const position = new Map<string, number>();
  const lastSeq = new Map<number, number>();
  const entries: CborValue[] = [];
  const idxOf = (author: Uint8Array): number => {
    const key = toHex(author);
    let i = authorIndex.get(key);
    if (i === undefined) {
      if (authors.length === MAX_BATCH_AUTHORS) throw new MalformedError(`a batch names at most ${MAX_BATCH_AUTHORS} authors`);
      i = authors.push(author) - 1;
      authorIndex.set(key, i);
    }
    return i;
  };
  inputs.forEach((input, k) => position.set(toHex(input.command.id), k));
  const parentRef = (p: Uint8Array, k: number): CborValue => {
    const at = position.get(toHex(p));
    if (at === undefined) return p;
    if (at >= k) throw new MalformedError('batch input is not in causal order');
    return at;
  };
  let k = 0;
  while (k < inputs.length) {
    const first = inputs[k]!.command;
    const a = idxOf(first.author);
    const prev = lastSeq.get(a);
    const seq = prev === undefined ? first.seq : first.seq - prev;
    const parents = first.parents.map((p) => parentRef(p, k));
    let end = k + 1;
    while (end < inputs.length && inputs[end - 1]!.elide && chains(inputs[end - 1]!.command, inputs[end]!.command)) end++;
    const last = inputs[end - 1]!;
    const signature = last.elide ? null : last.command.signature;
    if (end - k >= 2) {
      entries.push([parents, a, seq, first.kind, inputs.slice(k, end).map((x) => x.command.payload), signature, 0]);
    } else {
      entries.push([parents, a, seq, first.kind, first.payload, signature]);
    }
    lastSeq.set(a, last.command.seq);
    k = end;
  }
  return encodeCbor([authors, entries]);
}

/** Whether `next` continues `prev`'s chain: same author and kind, only parent `prev`, seq + 1. */
function chains(prev: CommandV2, next: CommandV2): boolean {
  return (
    equalBytes(prev.author, next.author) && prev.kind === next.kind && next.kind !== CommandKind.Genesis &&
    next.parents.length === 1 && equalBytes(next.parents[0]!, prev.id) && next.seq === prev.seq + 1
  );
}

/**
 * Decode a batch for the scope `scopeId` and rebuild every command (ids included). Checks the
 * layout, every index, the author table, parents strictly ascending after substitution and
 * non-empty iff genesis, seqs within uint32, kinds, and each rebuilt command within 1,024 bytes.
 * Verifies no signature. @throws MalformedError, TooLargeError (the whole batch is refused).
 */
export function decodeBatch(scopeId: Uint8Array, bytes: Uint8Array, maxBytes: number): BatchCommand[] {
  if (bytes.length > maxBytes) throw new TooLargeError(`batch of ${bytes.length} bytes exceeds ${maxBytes}`);
  // Byte strings as views into the batch: what a rebuilt command keeps is copied (rebuild), so no command holds the frame.
  const v = decodeCbor(bytes, maxBytes, 4, true);
  if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[0]) || !Array.isArray(v[1])) throw new MalformedError('batch is not [authors, entries]');
  const authors = v[0].map((a) => (a instanceof Uint8Array ? a.slice() : a));
  if (authors.length === 0 || authors.length > MAX_BATCH_AUTHORS) throw new MalformedError(`batch author table of ${authors.length}`);
  const seen = new Set<string>();
  for (const a of authors) {
    if (!(a instanceof Uint8Array) || a.length !== AUTHOR_BYTES) throw new MalformedError('batch author is not 8 bytes');
    if (seen.has(toHex(a))) throw new MalformedError('batch author listed twice');
    seen.add(toHex(a));
  }
  const out: BatchCommand[] = [];
  const lastSeq = new Map<number, number>();
  for (const e of v[1]) {
    if (!Array.isArray(e) || (e.length !== 6 && e.length !== 7)) throw new MalformedError('batch entry is not an array of 6 or 7');
    const [parents, a, seqField, kind, payload, signature] = e as [CborValue, CborValue, CborValue, CborValue, CborValue, CborValue];
    if (e.length === 7 && e[6] !== 0) throw new MalformedError('batch run: reserved element is not 0');
    if (typeof a !== 'number' || a < 0 || a >= authors.length) throw new MalformedError('batch author index out of range');
    if (typeof seqField !== 'number' || typeof kind !== 'number' || !isKind(kind)) throw new MalformedError('batch entry seq or kind');
    if (signature !== null && !(signature instanceof Uint8Array && signature.length === SIGNATURE_BYTES)) throw new MalformedError('batch signature is neither 64 bytes nor null');
    const payloads = e.length === 7 ? payload : [payload];
    if (!Array.isArray(payloads) || (e.length === 7 && payloads.length < 2) || !payloads.every((p) => p instanceof Uint8Array)) throw new MalformedError('batch payloads');
    if (e.length === 7 && kind === CommandKind.Genesis) throw new MalformedError('batch run of genesis commands');
    const prev = lastSeq.get(a);
    let seq = prev === undefined ? seqField : prev + seqField;
    let parentIds = resolveParents(parents, out);
    for (let i = 0; i < payloads.length; i++) {
      if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQ) throw new MalformedError('batch seq outside uint32');
      const last = i === payloads.length - 1;
      out.push(rebuild(scopeId, parentIds.ids, parentIds.local, authors[a] as Uint8Array, a, seq, kind, payloads[i] as Uint8Array, last ? signature : null));
      parentIds = { ids: [out[out.length - 1]!.id], local: [out.length - 1] };
      if (!last) seq++;
    }
    lastSeq.set(a, seq);
  }
  if (out.length === 0) throw new MalformedError('batch without commands');
  return out;
}

function resolveParents(parents: CborValue, out: BatchCommand[]): { ids: Uint8Array[]; local: number[] } {
  if (!Array.isArray(parents) || parents.length > MAX_PARENTS) throw new MalformedError('batch parents');
  const ids: Uint8Array[] = [];
  const local: number[] = [];
  for (const p of parents) {
    if (typeof p === 'number') {
      if (p < 0 || p >= out.length) throw new MalformedError('batch parent index is not an earlier command');
      ids.push(out[p]!.id);
      local.push(p);
    } else if (p instanceof Uint8Array && p.length === ID_BYTES) {
      ids.push(p.slice());
    } else {
      throw new MalformedError('batch parent is neither an index nor a 32-byte id');
    }
  }
  for (let i = 1; i < ids.length; i++) if (compareBytes(ids[i - 1]!, ids[i]!) >= 0) throw new MalformedError('batch parents are not strictly ascending');
  return { ids, local };
}

function rebuild(
  scopeId: Uint8Array, parents: Uint8Array[], local: number[], author: Uint8Array, authorIndex: number,
  seq: number, kind: CommandKindValue, payload: Uint8Array, signature: Uint8Array | null,
): BatchCommand {
  if ((parents.length === 0) !== (kind === CommandKind.Genesis)) throw new MalformedError('parents must be empty iff genesis');
  if (kind === CommandKind.Genesis && seq !== 0) throw new MalformedError('genesis seq must be 0');
  // Written once, into the command's own buffer: the unsigned array (hashed for the id), then its
  // head and tail made the command's. `payload` and `signature` are views into the batch: the
  // command keeps them as views of its own bytes.
  const bytes = unsignedInto({ parents, author, seq, kind, payload }, signature === null ? 1 : SIGNATURE_TAIL);
  const n = bytes.length - (signature === null ? 1 : SIGNATURE_TAIL);
  if (n + SIGNATURE_TAIL > MAX_COMMAND_BYTES) throw new TooLargeError(`rebuilt command of ${n + SIGNATURE_TAIL} bytes exceeds ${MAX_COMMAND_BYTES}`);
  const id = commandIdV2(scopeId, kind, bytes.subarray(0, n));
  bytes[0] = COMMAND_HEAD;
  let sig: Uint8Array | null = null;
  if (signature === null) bytes[n] = NULL_SIGNATURE;
  else {
    bytes[n] = 0x58;
    bytes[n + 1] = SIGNATURE_BYTES;
    bytes.set(signature, n + 2);
    sig = bytes.subarray(n + 2);
  }
  return { parents, author, seq, kind, payload: bytes.subarray(n - payload.length, n), id, bytes, signature: sig, authorIndex, localParents: local };
}

/** The full v2 command encoding of a rebuilt command that carries its signature (P§5.1). */
export function commandBytesOf(c: BatchCommand): Uint8Array {
  if (c.signature === null) throw new MalformedError('a covered command has no signature to encode');
  return c.bytes;
}

/** The unsigned 5-array (§5.1) of a rebuilt command, the bytes its id covers: a fresh copy. */
export function unsignedOfBatchCommand(c: BatchCommand): Uint8Array {
  const out = c.bytes.slice(0, c.bytes.length - (c.signature === null ? 1 : SIGNATURE_TAIL));
  out[0] = 0x85;
  return out;
}

function isKind(k: number): k is CommandKindValue {
  return k === CommandKind.Data || k === CommandKind.Genesis || k === CommandKind.Membership;
}
