/**
 * Command encoding v2 (docs/design/v2-scopes.md §2): the 6-array
 * `[parents, author, seq, kind, payload, signature]`, its id and its signature.
 *
 * - `unsigned` is the 5-array `[parents, author, seq, kind, payload]`. The encoding is canonical,
 *   so `unsigned` = the encoding with its first byte 0x86 replaced by 0x85 and its last 66 bytes
 *   (`58 40` and the signature) removed: verifiers slice, nobody re-encodes (§2.1).
 * - id = `H("syncwire-gen-v2" ‖ unsigned)` for a genesis (kind 1: the scope id), otherwise
 *   `H("syncwire-cmd-v2" ‖ scope id ‖ unsigned)`. The id never covers the signature, so it is the
 *   same whether or not the signature travels (issue 17).
 * - signature = Ed25519 over `"syncwire-sig-v2" ‖ id` (47 bytes).
 * - A command received covered in a compact batch (PROTOCOL.md §10.7) may be *held* without its
 *   signature by a host that asked for `elide`: its encoding is the same 6-array with `null` (0xf6)
 *   last, its id unchanged. Only {@link decodeHeldCommandV2} (store bodies) takes that form; the
 *   wire decoder refuses it, and such a command never verifies.
 *
 * The scope is not a field: a command is always decoded for a scope the caller names, and a
 * command replayed into another scope gets another id there, which its signature does not sign
 * (§2.4). Body validity of genesis and membership payloads is not checked here (genesis.ts,
 * membership-body.ts), nor anything that needs a store (parents, author key, roles).
 */
import { createHash, type Hash } from 'node:crypto';
import { cborHeadLength, decodeCbor, writeCborHead, type CborValue } from './cbor.js';
import { compareBytes, fingerprint } from './command.js';
import { AUTHOR_BYTES, ID_BYTES, MAX_COMMAND_BYTES, MAX_PARENTS, SIGNATURE_BYTES } from './constants.js';
import { COMMAND_ID_CONTEXT, CommandKind, GENESIS_ID_CONTEXT, SIGNATURE_CONTEXT_V2, type CommandKindValue } from './constants-v2.js';
import { equalBytes } from './bytes.js';
import { MalformedError, TooLargeError } from './errors.js';
import { verifySignature, verifySignatureAsync } from './keys.js';

/** Bytes the signature takes at the end of every signed v2 command encoding: head `58 40` + 64 bytes. */
export const SIGNATURE_TAIL_V2 = SIGNATURE_BYTES + 2;
/** The last byte of a command held without its signature: CBOR `null`. */
const NULL_SIGNATURE = 0xf6;
/** First byte of a v2 command encoding (CBOR array of 6). */
const COMMAND_HEAD = 0x86;
/** First byte of the unsigned 5-array. */
const UNSIGNED_HEAD = 0x85;
const UNSIGNED_HEAD_BYTES = Uint8Array.of(UNSIGNED_HEAD);
const SIGNATURE_HEAD = Uint8Array.of(0x58, SIGNATURE_BYTES);
/** Nesting of a command: the command array and its `parents` array. */
const COMMAND_DEPTH = 2;

/** A v2 command's content before it is signed. */
export interface UnsignedCommandV2 {
  /** Parent ids (32 bytes each, ≤ 16); the encoder sorts them (and drops repeats). Empty iff kind 1. */
  parents: Uint8Array[];
  /** Author fingerprint, 8 bytes. */
  author: Uint8Array;
  /** The author's sequence number within the scope (uint32); 0 in a genesis. */
  seq: number;
  /** 0 data, 1 genesis, 2 membership. */
  kind: CommandKindValue;
  /** Application bytes (kind 0) or the genesis / membership body (kinds 1, 2). */
  payload: Uint8Array;
}

/** A structurally valid v2 command (its signature, parents and author are not checked). */
export interface CommandV2 extends UnsignedCommandV2 {
  /**
   * 64-byte Ed25519 signature over {@link signatureMessage}(id); `null` for a command held without
   * it (received covered in a compact batch by a host that set `elide`, PROTOCOL.md §10.7). Never
   * null from {@link decodeCommandV2} or {@link encodeCommandV2}; such a command never verifies and
   * travels only inside a compact batch, with a cover.
   */
  signature: Uint8Array | null;
  /** The exact 6-array encoding (an own copy); ends with `f6` when the signature is null. */
  bytes: Uint8Array;
  /** The id (§2.2), computed with the scope id given at decode or encode. */
  id: Uint8Array;
}

/** A command that carries its signature: what the wire decoder and the encoder return. */
export type SignedCommandV2 = CommandV2 & { signature: Uint8Array };

/**
 * The unsigned 5-array of a signed command encoding, sliced: `0x85 ‖ bytes[1 .. len − 66]`. A
 * fresh buffer. The input is assumed to be a structurally valid signed encoding (decode it first;
 * a held command's is `0x85 ‖ bytes[1 .. len − 1]`).
 */
export function unsignedOf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - SIGNATURE_TAIL_V2);
  out[0] = UNSIGNED_HEAD;
  out.set(bytes.subarray(1, bytes.length - SIGNATURE_TAIL_V2), 1);
  return out;
}

/**
 * A buffer `tail` bytes longer than the unsigned 5-array of `f` (§5.1), with that array (head
 * 0x85) written at its start: the signed or held form is completed in place, without a copy. The
 * bytes are exactly those of `encodeCbor([parents, author, seq, kind, payload])`. The caller has
 * checked the fields (32-byte parents, 8-byte author, uint32 seq, kind 0..2).
 */
export function unsignedInto(f: UnsignedCommandV2, tail: number): Uint8Array {
  const np = f.parents.length;
  const size = 1 + cborHeadLength(np) + np * (2 + ID_BYTES) + 1 + AUTHOR_BYTES + cborHeadLength(f.seq) + 1 + cborHeadLength(f.payload.length) + f.payload.length;
  const out = new Uint8Array(size + tail);
  out[0] = UNSIGNED_HEAD;
  let at = writeCborHead(4, np, out, 1);
  for (const p of f.parents) {
    at = writeCborHead(2, ID_BYTES, out, at);
    out.set(p, at);
    at += ID_BYTES;
  }
  at = writeCborHead(2, AUTHOR_BYTES, out, at);
  out.set(f.author, at);
  at = writeCborHead(0, f.seq, out, at + AUTHOR_BYTES);
  at = writeCborHead(0, f.kind, out, at);
  at = writeCborHead(2, f.payload.length, out, at);
  out.set(f.payload, at);
  return out;
}

/**
 * Whether a structurally valid v2 command encoding (a store body: decoded once when it was
 * stored) is held without its signature, read from its sixth element's head without decoding the
 * rest (a signature's last byte may be 0xf6 too, so the tail alone does not tell).
 */
export function isHeldCommandV2(bytes: Uint8Array): boolean {
  let at = 1; // after the 0x86 head
  const head = (): number => {
    const ai = bytes[at]! & 0x1f;
    const n = ai < 24 ? 0 : ai === 24 ? 1 : ai === 25 ? 2 : 4; // canonical: a uint32 at most here
    let v = ai < 24 ? ai : 0;
    for (let k = 1; k <= n; k++) v = v * 256 + bytes[at + k]!;
    at += 1 + n;
    return v;
  };
  // A byte string's head, then its content (not `at += head()`: that adds to `at` as it was before the head).
  const skipBytes = (): void => {
    const n = head();
    at += n;
  };
  const parents = head();
  for (let k = 0; k < parents; k++) skipBytes();
  skipBytes(); // author
  head(); // seq
  head(); // kind
  skipBytes(); // payload
  return bytes[at] === NULL_SIGNATURE;
}

/**
 * The held form of a command whose signature is left out (PROTOCOL.md §10.7): its unsigned
 * 5-array `unsigned` as a 6-array ending in `null`. The id does not change (it never covers the
 * signature). `fields` and `id` must be those `unsigned` encodes (compact-batch.ts rebuilds all three).
 */
export function heldCommandV2(fields: UnsignedCommandV2, unsigned: Uint8Array, id: Uint8Array): CommandV2 {
  const bytes = new Uint8Array(unsigned.length + 1);
  bytes.set(unsigned, 0);
  bytes[0] = COMMAND_HEAD;
  bytes[unsigned.length] = NULL_SIGNATURE;
  // The payload is the unsigned array's last element: a view of it in `bytes` keeps no other buffer alive.
  const payload = bytes.subarray(unsigned.length - fields.payload.length, unsigned.length);
  return { parents: fields.parents, author: fields.author, seq: fields.seq, kind: fields.kind, payload, signature: null, bytes, id };
}

/**
 * The id of a command of `kind` from its unsigned encoding (§2.2). For kind 1 (genesis) the id is
 * the scope id and `scopeId` is ignored; for every other kind `scopeId` must be 32 bytes.
 * @throws MalformedError when a non-genesis id is asked for without a 32-byte scope id.
 */
export function commandIdV2(scopeId: Uint8Array, kind: CommandKindValue, unsigned: Uint8Array): Uint8Array {
  return digest(idHash(scopeId, kind).update(unsigned));
}

/** The scope id a genesis defines: `H("syncwire-gen-v2" ‖ unsigned)` (§1.2). */
export function genesisIdOf(unsigned: Uint8Array): Uint8Array {
  return digest(createHash('sha256').update(GENESIS_ID_CONTEXT).update(unsigned));
}

/** The 47 bytes a v2 signature signs: `"syncwire-sig-v2" ‖ id`. */
export function signatureMessage(id: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGNATURE_CONTEXT_V2.length + id.length);
  out.set(SIGNATURE_CONTEXT_V2, 0);
  out.set(id, SIGNATURE_CONTEXT_V2.length);
  return out;
}

/**
 * Encode and sign a v2 command. Parents are sorted (repeats dropped); the fields are checked as
 * the decoder would (§2.1), so what this returns always decodes back to itself. `sign` receives
 * the 47-byte signature message and returns the 64-byte signature.
 * @param scopeId the scope the command belongs to; `null` for a genesis (its id IS the scope id),
 * ignored for a genesis otherwise.
 * @throws TooLargeError when the encoding would exceed 1,024 bytes (checked before signing).
 * @throws MalformedError for a field outside §2.1, or a non-genesis command without a scope id.
 */
export function encodeCommandV2(scopeId: Uint8Array | null, cmd: UnsignedCommandV2, sign: (msg: Uint8Array) => Uint8Array): SignedCommandV2 {
  const parents = [...cmd.parents].sort(compareBytes).filter((p, i, a) => i === 0 || compareBytes(a[i - 1]!, p) !== 0);
  const fields = { parents, author: cmd.author, seq: cmd.seq, kind: cmd.kind, payload: cmd.payload };
  checkFields(fields);
  const scope = scopeFor(scopeId, cmd.kind);
  // The command is the unsigned array with one more element: same bytes, another head, the tail.
  const bytes = unsignedInto(fields, SIGNATURE_TAIL_V2);
  const n = bytes.length - SIGNATURE_TAIL_V2;
  if (bytes.length > MAX_COMMAND_BYTES) throw new TooLargeError(`command of ${bytes.length} bytes exceeds ${MAX_COMMAND_BYTES}`);
  const id = digest(idHash(scope, cmd.kind).update(bytes.subarray(0, n)));
  const signature = sign(signatureMessage(id));
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
    throw new MalformedError(`signature must be ${SIGNATURE_BYTES} bytes`);
  }
  bytes[0] = COMMAND_HEAD;
  bytes.set(SIGNATURE_HEAD, n);
  bytes.set(signature, n + SIGNATURE_HEAD.length);
  // Literals, not spreads of `fields`: a spread with added keys takes V8's slow path (~2 µs a command).
  return { parents, author: cmd.author, seq: cmd.seq, kind: cmd.kind, payload: cmd.payload, signature: new Uint8Array(signature), bytes, id };
}

/**
 * Decode and structurally check one v2 command (§2.1): canonical CBOR, nesting ≤ 2, exactly 6
 * elements, parents ≤ 16 of 32 bytes strictly ascending, parents empty iff kind 1, kind ∈ {0, 1,
 * 2}, seq a uint32 and 0 in a genesis, author 8 bytes, signature exactly 64 bytes (`null`, the
 * elided signature of a compact batch, is Malformed here: a command on the wire always carries
 * its signature), at most 1,024 bytes. Computes the id with `scopeId`. Verifies nothing else
 * (signature, parents' presence, author key, bodies).
 * @param scopeId the scope the command was received for; `null` is accepted only for a genesis.
 * @throws TooLargeError over 1,024 bytes; MalformedError for everything else.
 */
export function decodeCommandV2(scopeId: Uint8Array | null, bytes: Uint8Array): SignedCommandV2 {
  return decode(scopeId, bytes, false) as SignedCommandV2; // `held` false: a null signature threw
}

/**
 * {@link decodeCommandV2} for a store body: also takes a command held without its signature (the
 * same 6-array with `null` last, PROTOCOL.md §10.7), whose `signature` is then null and whose id is
 * the one it had with a signature. Never use it for bytes received as a plain command.
 * @throws TooLargeError, MalformedError as {@link decodeCommandV2}.
 */
export function decodeHeldCommandV2(scopeId: Uint8Array | null, bytes: Uint8Array): CommandV2 {
  return decode(scopeId, bytes, true);
}

/**
 * {@link decodeHeldCommandV2} of a body read back from this host's own store under the id the
 * store keeps for it: the id is taken, not hashed again (a responder decodes every command it
 * sends; the receiver computes every id itself anyway). Structure is still checked.
 * @throws TooLargeError, MalformedError as {@link decodeCommandV2}.
 */
export function decodeStoredCommandV2(bytes: Uint8Array, id: Uint8Array): CommandV2 {
  return decode(null, bytes, true, id);
}

function decode(scopeId: Uint8Array | null, bytes: Uint8Array, held: boolean, knownId?: Uint8Array): CommandV2 {
  if (bytes.length > MAX_COMMAND_BYTES) throw new TooLargeError(`command of ${bytes.length} bytes exceeds ${MAX_COMMAND_BYTES}`);
  // The command's own copy, decoded in place: its fields are views into it (one allocation, not one per field).
  const own = new Uint8Array(bytes);
  const v = decodeCbor(own, MAX_COMMAND_BYTES, COMMAND_DEPTH, true);
  if (!Array.isArray(v) || v.length !== 6) throw new MalformedError('command v2 is not a 6-element array');
  const [parents, author, seq, kind, payload, signature] = v as [CborValue, CborValue, CborValue, CborValue, CborValue, CborValue];
  if (!Array.isArray(parents) || !parents.every((p): p is Uint8Array => p instanceof Uint8Array)) {
    throw new MalformedError('command parents must be an array of byte strings');
  }
  if (!(author instanceof Uint8Array) || typeof seq !== 'number' || typeof kind !== 'number' || !(payload instanceof Uint8Array)) {
    throw new MalformedError('command fields have wrong types');
  }
  if (signature === null && !held) throw new MalformedError('a command without its signature (null) travels only inside a compact batch');
  if (signature !== null && !(signature instanceof Uint8Array)) throw new MalformedError('command signature must be a byte string');
  if (!isKind(kind)) throw new MalformedError(`unknown command kind ${kind}`);
  const fields = { parents, author, seq, kind, payload };
  checkFields(fields);
  for (let i = 1; i < parents.length; i++) {
    if (compareBytes(parents[i - 1]!, parents[i]!) >= 0) throw new MalformedError('command parents must be strictly ascending');
  }
  if (signature !== null && signature.length !== SIGNATURE_BYTES) throw new MalformedError(`signature must be ${SIGNATURE_BYTES} bytes`);
  if (knownId !== undefined) return { parents, author, seq, kind, payload, signature, bytes: own, id: new Uint8Array(knownId) };
  const scope = scopeFor(scopeId, kind);
  // Hash the unsigned bytes in place: the 0x85 head, then the slice between head and signature.
  const tail = signature === null ? 1 : SIGNATURE_TAIL_V2;
  const id = digest(idHash(scope, kind).update(UNSIGNED_HEAD_BYTES).update(own.subarray(1, own.length - tail)));
  return { parents, author, seq, kind, payload, signature, bytes: own, id };
}

/**
 * True iff `cmd`'s signature verifies under `publicKey` over {@link signatureMessage}(cmd.id) and
 * `publicKey`'s fingerprint is `cmd.author` (a key that does not name the author never verifies,
 * nor does a command held without its signature).
 * Synchronous; see {@link verifyCommandV2Async} for the thread pool.
 */
export function verifyCommandV2(cmd: CommandV2, publicKey: Uint8Array): boolean {
  if (cmd.signature === null || !equalBytes(fingerprint(publicKey), cmd.author)) return false;
  return verifySignature(publicKey, signatureMessage(cmd.id), cmd.signature);
}

/** {@link verifyCommandV2} on libuv's thread pool (several verifies run on several cores). */
export function verifyCommandV2Async(cmd: CommandV2, publicKey: Uint8Array): Promise<boolean> {
  if (cmd.signature === null || !equalBytes(fingerprint(publicKey), cmd.author)) return Promise.resolve(false);
  return verifySignatureAsync(publicKey, signatureMessage(cmd.id), cmd.signature);
}

function isKind(k: number): k is CommandKindValue {
  return k === CommandKind.Data || k === CommandKind.Genesis || k === CommandKind.Membership;
}

/** The rules of §2.1 that do not depend on the encoding (parents' order is checked by the caller). */
function checkFields(c: UnsignedCommandV2): void {
  if (!isKind(c.kind)) throw new MalformedError(`unknown command kind ${String(c.kind)}`);
  if (c.parents.length > MAX_PARENTS) throw new MalformedError(`more than ${MAX_PARENTS} parents`);
  for (const p of c.parents) if (p.length !== ID_BYTES) throw new MalformedError(`parent id must be ${ID_BYTES} bytes`);
  if (c.kind === CommandKind.Genesis) {
    if (c.parents.length !== 0) throw new MalformedError('a genesis has no parents');
    if (c.seq !== 0) throw new MalformedError('a genesis has seq 0');
  } else if (c.parents.length === 0) {
    throw new MalformedError(`a command of kind ${c.kind} needs at least one parent`);
  }
  if (!(c.author instanceof Uint8Array) || c.author.length !== AUTHOR_BYTES) throw new MalformedError(`author must be ${AUTHOR_BYTES} bytes`);
  if (!Number.isInteger(c.seq) || c.seq < 0 || c.seq > 0xffffffff) throw new MalformedError('seq must be a uint32');
  if (!(c.payload instanceof Uint8Array)) throw new MalformedError('payload must be bytes');
}

/** The scope id to hash for `kind`: none for a genesis, else a 32-byte id or Malformed. */
function scopeFor(scopeId: Uint8Array | null, kind: CommandKindValue): Uint8Array | null {
  if (kind === CommandKind.Genesis) return null;
  if (scopeId === null || scopeId.length !== ID_BYTES) {
    throw new MalformedError(`a command of kind ${kind} needs its scope's 32-byte id`);
  }
  return scopeId;
}

/** A SHA-256 already fed with the id's context (and scope id); the caller adds the unsigned bytes. */
function idHash(scopeId: Uint8Array | null, kind: CommandKindValue): Hash {
  if (kind === CommandKind.Genesis) return createHash('sha256').update(GENESIS_ID_CONTEXT);
  const scope = scopeFor(scopeId, kind)!; // not null: scopeFor throws for a non-genesis without a scope id
  return createHash('sha256').update(COMMAND_ID_CONTEXT).update(scope);
}

function digest(h: Hash): Uint8Array {
  return new Uint8Array(h.digest());
}
