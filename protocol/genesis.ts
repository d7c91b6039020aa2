/**
 * The genesis body (design v2-scopes §1.3): the payload of a scope's kind-1 command, one CBOR
 * item `[format, name, nonce, flags, members, retention]` (exactly 6 elements: the body is
 * signed, so nothing in it could be ignored), and the genesis's author rule.
 */
import { encodeCbor } from './cbor.js';
import { compareBytes, fingerprint } from './command.js';
import { GENESIS_FORMAT, GENESIS_OPEN_READ, MAX_GENESIS_MEMBERS, MAX_SCOPE_NAME, Role, SCOPE_NAME_PATTERN } from './constants-v2.js';
import { MalformedError, NotPermittedError } from './errors.js';
import { checkMembers, decodeBodyItem, isUint32, membersFromCbor, membersToCbor, sortedMembers, type Member } from './membership-body.js';

export type { Member } from './membership-body.js';

/** Longest genesis nonce. */
export const MAX_GENESIS_NONCE = 16;

/** A scope's recommended retention (§4.1); 0 on an axis = no bound on it. */
export interface GenesisRetention {
  /** Most data commands kept (uint32). */
  maxCommands: number;
  /** Most payload bytes kept (uint32). */
  maxBytes: number;
  /** Oldest command kept, in seconds (uint32). */
  maxAgeS: number;
}

/** A decoded genesis body. */
export interface GenesisBody {
  /** Always {@link GENESIS_FORMAT} (1) in this revision. */
  format: 1;
  /** Scope name, `^[a-z0-9][a-z0-9._/-]{0,63}$`; informational, not unique across hosts. */
  name: string;
  /** 0..16 bytes chosen by the creator (the agent uses 16 random bytes). */
  nonce: Uint8Array;
  /** Bit 0 = `open_read` ({@link GENESIS_OPEN_READ}); every other bit 0. */
  flags: number;
  /** 1..16 members, roles 1..7, strictly ascending by key, distinct fingerprints (the encoder sorts). */
  members: Member[];
  /** Recommended retention for hosts whose configuration sets none. */
  retention: GenesisRetention;
}

/**
 * Check every rule of §1.3 on a body whose members are already in encoding order.
 * @throws MalformedError
 */
function checkGenesisBody(b: GenesisBody): void {
  if (b.format !== GENESIS_FORMAT) throw new MalformedError(`genesis format ${String(b.format)} is not ${GENESIS_FORMAT}`);
  if (typeof b.name !== 'string' || b.name.length > MAX_SCOPE_NAME || !SCOPE_NAME_PATTERN.test(b.name)) {
    throw new MalformedError(`genesis name ${JSON.stringify(b.name)} does not match ${String(SCOPE_NAME_PATTERN)}`);
  }
  if (!(b.nonce instanceof Uint8Array) || b.nonce.length > MAX_GENESIS_NONCE) throw new MalformedError(`genesis nonce must be 0..${MAX_GENESIS_NONCE} bytes`);
  if (!isUint32(b.flags) || (b.flags & ~GENESIS_OPEN_READ) !== 0) throw new MalformedError(`genesis flags ${String(b.flags)}: only bit 0 (open_read) may be set`);
  checkMembers(b.members, 'genesis members', 1, MAX_GENESIS_MEMBERS, 1);
  // Distinct keys can still share a fingerprint (8 bytes of SHA-256): the author field could not
  // name either of them, so the body is refused.
  const seen = new Set<string>();
  for (const m of b.members) {
    const fp = Buffer.from(fingerprint(m.publicKey)).toString('latin1');
    if (seen.has(fp)) throw new MalformedError('genesis members: two keys share a fingerprint');
    seen.add(fp);
  }
  const r = b.retention;
  if (r === null || typeof r !== 'object' || !isUint32(r.maxCommands) || !isUint32(r.maxBytes) || !isUint32(r.maxAgeS)) {
    throw new MalformedError('genesis retention must be three uint32');
  }
}

/**
 * Encode a genesis body (the payload of a kind-1 command). Members are sorted by key first.
 * @throws MalformedError when the body breaks a rule of §1.3
 */
export function encodeGenesisBody(b: GenesisBody): Uint8Array {
  const body: GenesisBody = { ...b, members: sortedMembers(b.members) };
  checkGenesisBody(body);
  const r = body.retention;
  return encodeCbor([body.format, body.name, body.nonce, body.flags, membersToCbor(body.members), [r.maxCommands, r.maxBytes, r.maxAgeS]]);
}

/**
 * Decode and check a genesis body (§1.3): exactly one canonical item, nesting ≤ 3, nothing after
 * it; an array of exactly 6 elements with every field rule of the table.
 * @throws MalformedError
 */
export function decodeGenesisBody(payload: Uint8Array): GenesisBody {
  const v = decodeBodyItem(payload, 'genesis body');
  if (!Array.isArray(v) || v.length !== 6) throw new MalformedError('genesis body must be an array of exactly 6 elements');
  const [format, name, nonce, flags, members, retention] = v;
  if (!isUint32(format)) throw new MalformedError('genesis format must be a uint32');
  if (typeof name !== 'string') throw new MalformedError('genesis name must be a text string');
  if (!(nonce instanceof Uint8Array)) throw new MalformedError('genesis nonce must be a byte string');
  if (!isUint32(flags)) throw new MalformedError('genesis flags must be a uint32');
  if (!Array.isArray(retention) || retention.length !== 3) throw new MalformedError('genesis retention must be [max_commands, max_bytes, max_age_s]');
  const [maxCommands, maxBytes, maxAgeS] = retention;
  if (!isUint32(maxCommands) || !isUint32(maxBytes) || !isUint32(maxAgeS)) throw new MalformedError('genesis retention must be three uint32');
  const body = {
    format: format as 1, // checked just below with the other rules
    name,
    nonce,
    flags,
    members: membersFromCbor(members!, 'genesis members'),
    retention: { maxCommands, maxBytes, maxAgeS },
  };
  checkGenesisBody(body);
  return body;
}

/**
 * The member of a (valid) genesis body whose fingerprint is `author`, or undefined. At most one
 * exists: a valid body has distinct fingerprints.
 */
export function genesisMember(b: GenesisBody, author: Uint8Array): Member | undefined {
  return b.members.find((m) => compareBytes(fingerprint(m.publicKey), author) === 0);
}

/**
 * The key that must have signed a genesis with this body and `author` (§1.3): the member with
 * that fingerprint, which must hold A.
 * @throws NotPermittedError when no member has that fingerprint or it lacks A
 */
export function genesisAuthorKey(b: GenesisBody, author: Uint8Array): Uint8Array {
  const m = genesisMember(b, author);
  if (m === undefined) throw new NotPermittedError('genesis author is not a member');
  if ((m.roles & Role.Admin) === 0) throw new NotPermittedError('genesis author lacks the admin role');
  return m.publicKey;
}
