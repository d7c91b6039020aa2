/**
 * The membership body (design v2-scopes §1.5): the payload of a kind-2 command, one CBOR item
 * `[ops]` with `ops = [[public_key, roles]; 1..16]`, strictly ascending by public key. Each op
 * says "from here on this key has exactly these roles" (0 removes it). Also the `[key, roles]`
 * list codec the genesis body (§1.3) shares.
 *
 * Body validity only: who may issue it and what it does to the membership is protocol/membership.ts.
 */
import { decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import { compareBytes } from './command.js';
import { MAX_COMMAND_BYTES, PUBLIC_KEY_BYTES } from './constants.js';
import { ALL_ROLES, MAX_MEMBERSHIP_OPS } from './constants-v2.js';
import { MalformedError } from './errors.js';

/** A key and its role bits (genesis `members`, membership `ops`). */
export interface Member {
  /** Raw 32-byte ed25519 public key. */
  publicKey: Uint8Array;
  /** Role bits (`Role`): 1..7 in a genesis, 0..7 in a membership op (0 removes the key). */
  roles: number;
}

/** A decoded membership body. */
export interface MembershipBody {
  /** 1..16 ops, strictly ascending by public key (the encoder sorts them). */
  ops: Member[];
}

/** CBOR nesting of a body inside the payload: body array, member list, member pair. */
export const BODY_DEPTH = 3;

/** True for an integer in 0..2^32-1 (the design's `uint32`). */
export function isUint32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/**
 * Decode one body item from a payload: exactly one canonical CBOR item (nothing after it),
 * nesting at most {@link BODY_DEPTH}. A payload can never exceed a command, so a longer one is
 * Malformed here rather than TooLarge.
 * @throws MalformedError
 */
export function decodeBodyItem(payload: Uint8Array, what: string): CborValue {
  if (payload.length > MAX_COMMAND_BYTES) throw new MalformedError(`${what} of ${payload.length} bytes is longer than a command`);
  try {
    return decodeCbor(payload, MAX_COMMAND_BYTES, BODY_DEPTH);
  } catch (err) {
    if (err instanceof MalformedError) throw new MalformedError(`${what}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Check a `[key, roles]` list: `min..max` entries, 32-byte keys strictly ascending bytewise,
 * roles in `minRoles..7`. The same key twice is reported as such (it is also a fingerprint
 * duplicate, §1.3).
 * @throws MalformedError
 */
export function checkMembers(list: readonly Member[], what: string, min: number, max: number, minRoles: number): void {
  if (list.length < min || list.length > max) throw new MalformedError(`${what}: ${list.length} entries, must be ${min}..${max}`);
  for (let i = 0; i < list.length; i++) {
    const m = list[i]!;
    if (!(m.publicKey instanceof Uint8Array) || m.publicKey.length !== PUBLIC_KEY_BYTES) {
      throw new MalformedError(`${what}: public key ${i} must be ${PUBLIC_KEY_BYTES} bytes`);
    }
    if (!isUint32(m.roles) || m.roles < minRoles || m.roles > ALL_ROLES) {
      throw new MalformedError(`${what}: roles ${String(m.roles)} of entry ${i} outside ${minRoles}..${ALL_ROLES}`);
    }
    if (i > 0) {
      const c = compareBytes(list[i - 1]!.publicKey, m.publicKey);
      if (c === 0) throw new MalformedError(`${what}: key ${i} repeated (duplicate fingerprint)`);
      if (c > 0) throw new MalformedError(`${what}: keys must be strictly ascending (entry ${i})`);
    }
  }
}

/**
 * The members of a decoded `[[bytes, uint]…]` CBOR list (shape only; {@link checkMembers} checks
 * the rules).
 * @throws MalformedError when it is not a list of 2-element `[bytes, uint32]` pairs
 */
export function membersFromCbor(v: CborValue, what: string): Member[] {
  if (!Array.isArray(v)) throw new MalformedError(`${what} must be an array`);
  const out: Member[] = [];
  for (const pair of v) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new MalformedError(`${what}: entries must be [public_key, roles]`);
    const [publicKey, roles] = pair;
    if (!(publicKey instanceof Uint8Array) || !isUint32(roles)) throw new MalformedError(`${what}: entries must be [bytes, uint32]`);
    out.push({ publicKey, roles });
  }
  return out;
}

/** A copy of `list` sorted by public key (what encoders emit). */
export function sortedMembers(list: readonly Member[]): Member[] {
  return [...list].sort((a, b) => compareBytes(a.publicKey, b.publicKey));
}

/** CBOR value of a (checked, sorted) member list. */
export function membersToCbor(list: readonly Member[]): CborValue {
  return list.map((m) => [m.publicKey, m.roles]);
}

/**
 * Encode a membership body. Ops are sorted by public key first.
 * @throws MalformedError for 0 or more than 16 ops, a key that is not 32 bytes or repeated, or
 * roles outside 0..7
 */
export function encodeMembershipBody(b: MembershipBody): Uint8Array {
  const ops = sortedMembers(b.ops);
  checkMembers(ops, 'membership ops', 1, MAX_MEMBERSHIP_OPS, 0);
  return encodeCbor([membersToCbor(ops)]);
}

/**
 * Decode and check a membership body (§1.5): exactly one item, an array of exactly 1 element,
 * 1..16 ops strictly ascending by 32-byte key, roles 0..7.
 * @throws MalformedError
 */
export function decodeMembershipBody(payload: Uint8Array): MembershipBody {
  const v = decodeBodyItem(payload, 'membership body');
  if (!Array.isArray(v) || v.length !== 1) throw new MalformedError('membership body must be an array of exactly 1 element');
  const ops = membersFromCbor(v[0]!, 'membership ops');
  checkMembers(ops, 'membership ops', 1, MAX_MEMBERSHIP_OPS, 0);
  return { ops };
}
