/**
 * The largest payload one data command can carry, derived from the command encoding v2
 * (protocol/command-v2.ts: the canonical CBOR array `[parents, author, seq, kind, payload,
 * signature]` of at most MAX_COMMAND_BYTES; docs/PROTOCOL.md gives the same 908). The API caps
 * request bodies at it: anything larger could never be committed, so the server refuses it (413)
 * without reading it.
 */
import { AUTHOR_BYTES, ID_BYTES, MAX_COMMAND_BYTES, SIGNATURE_BYTES } from '../../protocol/constants.js';

/** CBOR head size of a byte string (or array) of length `n` (major type header + length bytes). */
function cborHead(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/**
 * The encoding's fixed part at its smallest for a data command: the 6-element array head, a
 * parents array of one id (a data command always has a parent: only a genesis has none), the
 * author byte string, a seq below 24 (one byte), the kind (one byte) and the signature byte string.
 */
const MIN_OVERHEAD = 1 + 1 + cborHead(ID_BYTES) + ID_BYTES + cborHead(AUTHOR_BYTES) + AUTHOR_BYTES + 1 + 1 + cborHead(SIGNATURE_BYTES) + SIGNATURE_BYTES;

function largestPayload(): number {
  let p = MAX_COMMAND_BYTES - MIN_OVERHEAD;
  while (p > 0 && MIN_OVERHEAD + cborHead(p) + p > MAX_COMMAND_BYTES) p--;
  return p;
}

/**
 * Largest payload any data command may carry: 908 bytes with MAX_COMMAND_BYTES = 1024 (one
 * parent, seq < 24). Commands with more parents or larger seqs fit less; the engine's encoder
 * refuses those with TooLargeError (answered 413 as well). A protocol-1 agent's commands fit one
 * byte more with a parent and 35 more without, but its API takes this cap too.
 */
export const MAX_PAYLOAD_BYTES = largestPayload();
