/**
 * The v2 bare push (docs/design/v2-scopes.md §3.6): a one-command push to a peer that announced
 * `BareCommand`, sent as the 7-array `[parents, author, seq, kind, payload, signature, scope]`,
 * the command's six elements followed by the receiver's scope number. It costs one byte more than
 * the command for scope numbers below 24, instead of a whole `Push` envelope.
 *
 * The command's encoding is recovered by slicing (`0x86 ‖ body[1 .. len − s]`, s = the encoded
 * length of the scope number); its structure is the command decoder's check, with the id of the
 * scope the number names, which only the caller's scope table knows.
 */
import { cborHeadLength, decodeCbor, encodeCbor } from './cbor.js';
import { MAX_COMMAND_BYTES } from './constants.js';
import { MalformedError, TooLargeError } from './errors.js';

/** Largest bare push body: a 1,024-byte command plus a 5-byte uint32 scope number. */
export const MAX_BARE_PUSH_BYTES = MAX_COMMAND_BYTES + 5;
const COMMAND_HEAD = 0x86;
const BARE_PUSH_HEAD = 0x87;

/** A decoded bare push. */
export interface BarePushV2 {
  /** The command's own 6-array encoding (a fresh buffer), still to be decoded for its scope. */
  command: Uint8Array;
  /** The receiver's number of the scope (uint32). */
  scope: number;
}

/**
 * The bare push of a command encoding to scope number `scopeNumber` (the receiver's number).
 * @throws MalformedError when `commandBytes` does not start with 0x86 or the number is not a uint32.
 */
export function encodeBarePushV2(commandBytes: Uint8Array, scopeNumber: number): Uint8Array {
  if (commandBytes.length < 2 || commandBytes[0] !== COMMAND_HEAD) throw new MalformedError('not a v2 command encoding');
  if (!Number.isInteger(scopeNumber) || scopeNumber < 0 || scopeNumber > 0xffffffff) throw new MalformedError('scope number must be a uint32');
  const tail = encodeCbor(scopeNumber);
  const out = new Uint8Array(commandBytes.length + tail.length);
  out.set(commandBytes, 0);
  out[0] = BARE_PUSH_HEAD;
  out.set(tail, commandBytes.length);
  return out;
}

/**
 * True iff `body` is a top-level CBOR array whose first element is an array: how a receiver tells
 * a bare push from a message (whose first element is its type number). Looks at the heads only;
 * {@link decodeBarePushV2} checks the rest.
 */
export function isBarePushV2(body: Uint8Array): boolean {
  const head = body[0];
  if (head === undefined || head >> 5 !== 4) return false;
  const info = head & 31;
  const skip = info < 24 ? 1 : info === 24 ? 2 : info === 25 ? 3 : info === 26 ? 5 : info === 27 ? 9 : -1;
  if (skip < 0) return false;
  const first = body[skip];
  return first !== undefined && first >> 5 === 4;
}

/**
 * Decode a bare push: canonical CBOR, exactly 7 elements, the first an array, the 7th a uint32.
 * The command part is not validated beyond its CBOR (decode it with the scope's id).
 * @throws TooLargeError over {@link MAX_BARE_PUSH_BYTES}; MalformedError for anything else.
 */
export function decodeBarePushV2(body: Uint8Array): BarePushV2 {
  if (body.length > MAX_BARE_PUSH_BYTES) throw new TooLargeError(`bare push of ${body.length} bytes exceeds ${MAX_BARE_PUSH_BYTES}`);
  const v = decodeCbor(body, MAX_BARE_PUSH_BYTES, 2);
  if (!Array.isArray(v) || !Array.isArray(v[0])) throw new MalformedError('bare push is not an array whose first element is an array');
  if (v.length !== 7) throw new MalformedError(`bare push has ${v.length} elements, not 7`);
  const scope = v[6];
  if (typeof scope !== 'number' || scope < 0 || scope > 0xffffffff) throw new MalformedError('bare push scope must be a uint32');
  // Canonical, so the 7th element is exactly its shortest head at the end of the body.
  const command = body.slice(0, body.length - cborHeadLength(scope));
  command[0] = COMMAND_HEAD;
  return { command, scope };
}
