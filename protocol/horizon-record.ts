/**
 * Horizon records (docs/design/v2-scopes.md §3.5): the item `[id, depth, frontier]` a poll answer
 * carries for a parent the requester may lack because the responder pruned it. `id` is a command
 * the responder retains or has in its horizon, `depth` its depth, `frontier` its membership
 * frontier F(id) (§1.6), so the requester can evaluate children of a command it will never hold.
 * Structure only: whether the frontier names membership commands of the scope is the store's check.
 */
import { decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import { compareBytes } from './command.js';
import { ID_BYTES, MAX_COMMAND_BYTES } from './constants.js';
import { MAX_DEPTH, MAX_FRONTIER } from './constants-v2.js';
import { MalformedError, TooLargeError } from './errors.js';

/**
 * Largest encoding of a horizon record: head 1 + id 34 + depth 5 + frontier head 1 + 16 × 34.
 * Budgets reserve this much for a record; a longer item cannot be a valid record.
 */
export const MAX_HORIZON_RECORD_BYTES = 1 + (2 + ID_BYTES) + 5 + 1 + MAX_FRONTIER * (2 + ID_BYTES);

/** One horizon record. */
export interface HorizonRecord {
  /** The command's id (32 bytes). */
  id: Uint8Array;
  /** Its depth, 0..{@link MAX_DEPTH} (below 2^31). */
  depth: number;
  /** F(id): at most 16 ids of membership commands; sorted ascending by the encoder. */
  frontier: Uint8Array[];
}

/**
 * Encode a record as the canonical 3-array (first byte 0x83). The frontier is sorted (repeats
 * dropped), so any order of the same set gives the same bytes.
 * @throws MalformedError for an id or frontier entry that is not 32 bytes, a depth outside
 * 0..2^31−1, or more than 16 frontier entries.
 */
export function encodeHorizonRecord(r: HorizonRecord): Uint8Array {
  const frontier = [...r.frontier].sort(compareBytes).filter((f, i, a) => i === 0 || compareBytes(a[i - 1]!, f) !== 0);
  checkRecord(r.id, r.depth, frontier);
  return encodeCbor([r.id, r.depth, frontier]);
}

/**
 * Decode one horizon record item: canonical CBOR, exactly `[bytes[32], uint < 2^31, [bytes[32];
 * ≤ 16]]`, the frontier strictly ascending. Byte strings are fresh copies.
 * @throws TooLargeError over 1,024 bytes (the item bound); MalformedError for anything else.
 */
export function decodeHorizonRecord(bytes: Uint8Array): HorizonRecord {
  if (bytes.length > MAX_COMMAND_BYTES) throw new TooLargeError(`horizon record of ${bytes.length} bytes exceeds ${MAX_COMMAND_BYTES}`);
  const v = decodeCbor(bytes, MAX_COMMAND_BYTES, 2);
  if (!Array.isArray(v) || v.length !== 3) throw new MalformedError('horizon record is not a 3-element array');
  const [id, depth, frontier] = v as [CborValue, CborValue, CborValue];
  if (!(id instanceof Uint8Array) || typeof depth !== 'number') throw new MalformedError('horizon record fields have wrong types');
  if (!Array.isArray(frontier) || !frontier.every((f): f is Uint8Array => f instanceof Uint8Array)) {
    throw new MalformedError('horizon record frontier must be an array of byte strings');
  }
  checkRecord(id, depth, frontier);
  for (let i = 1; i < frontier.length; i++) {
    if (compareBytes(frontier[i - 1]!, frontier[i]!) >= 0) throw new MalformedError('horizon record frontier must be strictly ascending');
  }
  return { id, depth, frontier };
}

function checkRecord(id: Uint8Array, depth: number, frontier: Uint8Array[]): void {
  if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) throw new MalformedError(`horizon record id must be ${ID_BYTES} bytes`);
  if (!Number.isInteger(depth) || depth < 0 || depth > MAX_DEPTH) throw new MalformedError(`horizon record depth must be below 2^31`);
  if (frontier.length > MAX_FRONTIER) throw new MalformedError(`horizon record frontier has more than ${MAX_FRONTIER} entries`);
  for (const f of frontier) if (f.length !== ID_BYTES) throw new MalformedError(`frontier id must be ${ID_BYTES} bytes`);
}
