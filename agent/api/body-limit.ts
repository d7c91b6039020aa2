/**
 * The largest payload one command can carry, derived from the command encoding
 * (protocol/command.ts: the canonical CBOR array `[parents, author, seq, payload, signature]`
 * of at most MAX_COMMAND_BYTES). The API caps request bodies at it: anything larger could never
 * be committed, so the server refuses it (413) without reading it.
 */
import { AUTHOR_BYTES, MAX_COMMAND_BYTES, SIGNATURE_BYTES } from '../../protocol/constants.js';

/** CBOR head size of a byte string (or array) of length `n` (major type header + length bytes). */
function cborHead(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/**
 * The encoding's fixed part at its smallest: the 5-element array head, an empty parents array,
 * the author byte string, a seq below 24 (one byte) and the signature byte string.
 */
const MIN_OVERHEAD = 1 + 1 + cborHead(AUTHOR_BYTES) + AUTHOR_BYTES + 1 + cborHead(SIGNATURE_BYTES) + SIGNATURE_BYTES;

function largestPayload(): number {
  let p = MAX_COMMAND_BYTES - MIN_OVERHEAD;
  while (p > 0 && MIN_OVERHEAD + cborHead(p) + p > MAX_COMMAND_BYTES) p--;
  return p;
}

/**
 * Largest payload any command may carry: 943 bytes with MAX_COMMAND_BYTES = 1024 (a first
 * command, no parents, seq < 24). Commands with parents or larger seqs fit less; the engine's
 * encoder refuses those with TooLargeError (answered 413 as well).
 */
export const MAX_PAYLOAD_BYTES = largestPayload();
