/**
 * Command encoding, id and signature.
 *
 * A command is the CBOR array `[parents, author, seq, payload, signature]`:
 * - `parents`: array of 0..MAX_PARENTS command ids (32-byte byte strings), strictly ascending
 *   bytewise (so the encoding is unique);
 * - `author`: 8-byte fingerprint of the author's ed25519 public key (first 8 bytes of its SHA-256);
 * - `seq`: the author's sequence number, an unsigned integer below 2^32;
 * - `payload`: application bytes;
 * - `signature`: 64-byte ed25519 signature.
 *
 * The id is SHA-256 of the whole encoding. The signed bytes are the ASCII context
 * `syncwire-cmd-v1` followed by the canonical encoding of the 4-element array
 * `[parents, author, seq, payload]` — which is the command's encoding with its first byte
 * (0x85) replaced by 0x84 and its last 66 bytes (the signature's head 0x58 0x40 and 64 bytes)
 * removed, so a verifier never re-encodes anything.
 */
import { createHash } from 'node:crypto';
import { decodeCbor, encodeCbor } from './cbor.js';
import { AUTHOR_BYTES, ID_BYTES, MAX_COMMAND_BYTES, MAX_PARENTS, SIGNATURE_BYTES } from './constants.js';
import { MalformedError, TooLargeError } from './errors.js';

/** Domain-separation prefix of the bytes a command signature covers. */
export const COMMAND_SIGN_CONTEXT = new TextEncoder().encode('syncwire-cmd-v1');

/** Bytes the signature's CBOR head plus body take at the end of every command encoding. */
const SIGNATURE_TAIL = SIGNATURE_BYTES + 2;

/** A command's content before it is signed. */
export interface UnsignedCommand {
  /** Parent ids; they are sorted by the encoder. */
  parents: Uint8Array[];
  /** Author fingerprint, {@link AUTHOR_BYTES} long. */
  author: Uint8Array;
  /** Author's sequence number (uint32). */
  seq: number;
  /** Application payload. */
  payload: Uint8Array;
}

/** A decoded, structurally valid command (its signature is not yet checked). */
export interface Command extends UnsignedCommand {
  signature: Uint8Array;
  /** The exact encoding the id and signature cover. */
  bytes: Uint8Array;
  /** SHA-256 of `bytes`. */
  id: Uint8Array;
}

/** Bytewise comparison of two byte strings (shorter first on a common prefix). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** Author fingerprint of an ed25519 public key: first {@link AUTHOR_BYTES} bytes of its SHA-256. */
export function fingerprint(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).subarray(0, AUTHOR_BYTES);
}

/** The bytes a signer signs for `cmd` (context + canonical 4-element array). */
export function signingBytes(cmd: UnsignedCommand): Uint8Array {
  const body = encodeCbor([sortedParents(cmd.parents), cmd.author, cmd.seq, cmd.payload]);
  return concat(COMMAND_SIGN_CONTEXT, body);
}

/** The signed bytes of an encoded command, sliced from its encoding (see module doc). */
export function signedBytesOf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(COMMAND_SIGN_CONTEXT.length + bytes.length - SIGNATURE_TAIL);
  out.set(COMMAND_SIGN_CONTEXT, 0);
  out[COMMAND_SIGN_CONTEXT.length] = 0x84;
  out.set(bytes.subarray(1, bytes.length - SIGNATURE_TAIL), COMMAND_SIGN_CONTEXT.length + 1);
  return out;
}

/**
 * Encode a signed command. `sign` receives the signing bytes and returns the 64-byte signature.
 * @throws TooLargeError when the encoding would exceed {@link MAX_COMMAND_BYTES}.
 */
export function encodeCommand(cmd: UnsignedCommand, sign: (data: Uint8Array) => Uint8Array): Command {
  checkFields(cmd);
  const parents = sortedParents(cmd.parents);
  const signature = sign(signingBytes(cmd));
  if (signature.length !== SIGNATURE_BYTES) throw new MalformedError('signature must be 64 bytes');
  const bytes = Uint8Array.from(encodeCbor([parents, cmd.author, cmd.seq, cmd.payload, signature]));
  if (bytes.length > MAX_COMMAND_BYTES) throw new TooLargeError(`command of ${bytes.length} bytes exceeds ${MAX_COMMAND_BYTES}`);
  return { parents, author: cmd.author, seq: cmd.seq, payload: cmd.payload, signature, bytes, id: sha256(bytes) };
}

/**
 * Decode and structurally check one command encoding (canonical CBOR, field types and sizes,
 * sorted unique parents). Does not verify the signature or the parents' presence.
 * @throws TooLargeError over {@link MAX_COMMAND_BYTES}; MalformedError otherwise.
 */
export function decodeCommand(bytes: Uint8Array): Command {
  if (bytes.length > MAX_COMMAND_BYTES) throw new TooLargeError(`command of ${bytes.length} bytes exceeds ${MAX_COMMAND_BYTES}`);
  const v = decodeCbor(bytes, MAX_COMMAND_BYTES, 2);
  if (!Array.isArray(v) || v.length !== 5) throw new MalformedError('command is not a 5-element array');
  const [parents, author, seq, payload, signature] = v;
  if (!Array.isArray(parents) || !parents.every((p): p is Uint8Array => p instanceof Uint8Array)) {
    throw new MalformedError('command parents must be an array of byte strings');
  }
  if (!(author instanceof Uint8Array) || typeof seq !== 'number' || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
    throw new MalformedError('command fields have wrong types');
  }
  const cmd = { parents, author, seq, payload };
  checkFields(cmd);
  for (let i = 1; i < parents.length; i++) {
    if (compareBytes(parents[i - 1]!, parents[i]!) >= 0) throw new MalformedError('command parents must be strictly ascending');
  }
  if (signature.length !== SIGNATURE_BYTES) throw new MalformedError('signature must be 64 bytes');
  const own = Uint8Array.from(bytes);
  return { ...cmd, signature, bytes: own, id: sha256(own) };
}

function checkFields(cmd: UnsignedCommand): void {
  if (cmd.parents.length > MAX_PARENTS) throw new MalformedError(`more than ${MAX_PARENTS} parents`);
  for (const p of cmd.parents) if (p.length !== ID_BYTES) throw new MalformedError('parent id must be 32 bytes');
  if (cmd.author.length !== AUTHOR_BYTES) throw new MalformedError(`author must be ${AUTHOR_BYTES} bytes`);
  if (!Number.isInteger(cmd.seq) || cmd.seq < 0 || cmd.seq > 0xffffffff) throw new MalformedError('seq must be a uint32');
}

function sortedParents(parents: Uint8Array[]): Uint8Array[] {
  const sorted = [...parents].sort(compareBytes);
  return sorted.filter((p, i) => i === 0 || compareBytes(sorted[i - 1]!, p) !== 0);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
