/**
 * Test vectors of command encoding v2 (docs/design/v2-scopes.md §10, first bullet):
 * `docs/vectors/commands-v2.json`. Deterministic: identities A/B/C from the seeds 0x01×32,
 * 0x02×32, 0x03×32, fixed nonces, and Ed25519 signatures are deterministic, so a rerun writes an
 * identical file. `make vectors` (scripts/gen-vectors.ts) writes it; test/vectors-commands-v2
 * checks it independently of this script.
 *
 * Readable form as in commands.json: known byte fields are plain lowercase hex strings; bodies
 * also in named fields (`body.readable`).
 */
import { encodeBarePushV2 } from '../protocol/bare-push-v2.js';
import { encodeCbor, type CborValue } from '../protocol/cbor.js';
import { compareBytes } from '../protocol/command.js';
import { decodeCommandV2, encodeCommandV2, signatureMessage, unsignedOf, type SignedCommandV2 } from '../protocol/command-v2.js';
import { COMMAND_ID_CONTEXT, CommandKind, GENESIS_ID_CONTEXT, GENESIS_OPEN_READ, Role, type CommandKindValue } from '../protocol/constants-v2.js';
import { encodeGenesisBody, type GenesisBody } from '../protocol/genesis.js';
import { identityFromSecret, toHex, type Identity } from '../protocol/keys.js';
import { encodeMembershipBody, type Member } from '../protocol/membership-body.js';
import { createHash } from 'node:crypto';
import { concat } from '../testkit/bytes.js';

type Name = 'A' | 'B' | 'C';
const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);
const run = (n: number, first: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (first + i) & 0xff);
const hex = toHex;
const RWA = Role.Read | Role.Write | Role.Admin;
const RW = Role.Read | Role.Write;

interface Case {
  name: string;
  description: string;
  signer: Name;
  /** The scope the command is a command of (its own id for a genesis). */
  scopeId: Uint8Array;
  cmd: SignedCommandV2;
  body?: { readable: unknown };
  parentsGiven?: Uint8Array[];
}

const membersReadable = (ms: Member[]): unknown => [...ms].sort((a, b) => compareBytes(a.publicKey, b.publicKey)).map((m) => ({ public_key: hex(m.publicKey), roles: m.roles }));
const genesisReadable = (b: GenesisBody): unknown => ({
  format: b.format,
  name: b.name,
  nonce: hex(b.nonce),
  flags: b.flags,
  members: membersReadable(b.members),
  retention: { max_commands: b.retention.maxCommands, max_bytes: b.retention.maxBytes, max_age_s: b.retention.maxAgeS },
});

/** The id preimage of a command of `scopeId` (§2.2): what the id hashes. */
function idPreimage(scopeId: Uint8Array, cmd: SignedCommandV2): Uint8Array {
  const u = unsignedOf(cmd.bytes);
  return cmd.kind === CommandKind.Genesis ? concat(GENESIS_ID_CONTEXT, u) : concat(COMMAND_ID_CONTEXT, scopeId, u);
}

/**
 * A signed 6-array built field by field, without the encoder's checks: how a reject breaks exactly
 * one rule while its id and signature are what an honest signer would have produced.
 */
function rawSigned(who: Identity, scopeId: Uint8Array, f: { parents: CborValue[]; seq: CborValue; kind: CborValue; payload: CborValue }, sig?: CborValue): Uint8Array {
  const unsigned = encodeCbor([f.parents, who.author, f.seq, f.kind, f.payload]);
  const genesis = f.kind === CommandKind.Genesis;
  const id = new Uint8Array(createHash('sha256').update(genesis ? GENESIS_ID_CONTEXT : concat(COMMAND_ID_CONTEXT, scopeId)).update(unsigned).digest());
  return encodeCbor([f.parents, who.author, f.seq, f.kind, f.payload, sig === undefined ? who.sign(signatureMessage(id)) : sig]);
}

function cases(ids: Record<Name, Identity>): Case[] {
  const { A, B, C } = ids;
  const deviceBody: GenesisBody = {
    format: 1,
    name: `device/${B.peerId}`,
    nonce: run(16, 0x00),
    flags: 0,
    members: [{ publicKey: A.publicKey, roles: RWA }, { publicKey: B.publicKey, roles: RW }],
    retention: { maxCommands: 1024, maxBytes: 0, maxAgeS: 2_592_000 },
  };
  const fleetBody: GenesisBody = {
    format: 1,
    name: 'fleet/test',
    nonce: run(16, 0x10),
    flags: GENESIS_OPEN_READ,
    members: [{ publicKey: A.publicKey, roles: RWA }, { publicKey: C.publicKey, roles: Role.Admin }],
    retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 },
  };
  const cmd = (scope: Uint8Array | null, who: Identity, parents: Uint8Array[], seq: number, kind: CommandKindValue, payload: Uint8Array): SignedCommandV2 =>
    encodeCommandV2(scope, { parents, author: who.author, seq, kind, payload }, who.sign);
  const device = cmd(null, A, [], 0, CommandKind.Genesis, encodeGenesisBody(deviceBody));
  const fleet = cmd(null, A, [], 0, CommandKind.Genesis, encodeGenesisBody(fleetBody));
  const s = device.id;
  const data = cmd(s, B, [s], 1, CommandKind.Data, run(100, 0x00));
  const addC = { ops: [{ publicKey: C.publicKey, roles: RW }] };
  const removeB = { ops: [{ publicKey: B.publicKey, roles: 0 }] };
  const add = cmd(s, A, [s], 1, CommandKind.Membership, encodeMembershipBody(addC));
  const remove = cmd(s, A, [s], 2, CommandKind.Membership, encodeMembershipBody(removeB));
  // Three concurrent children of the genesis, handed to the encoder in descending order.
  const given = [data.id, add.id, remove.id].sort(compareBytes).reverse();
  const merge = cmd(s, A, given, 3, CommandKind.Data, new Uint8Array(0));
  return [
    { name: 'genesis_device', description: `device scope of B: members A rwa, B rw; retention [1024, 0, 2592000]; author A`, signer: 'A', scopeId: device.id, cmd: device, body: { readable: genesisReadable(deviceBody) } },
    { name: 'genesis_fleet', description: 'fleet scope, open_read; members A rwa, C a; author A', signer: 'A', scopeId: fleet.id, cmd: fleet, body: { readable: genesisReadable(fleetBody) } },
    { name: 'data_one_parent_100', description: 'device scope, author B, parent the genesis, payload 00..63: the 215-byte reference command', signer: 'B', scopeId: s, cmd: data },
    { name: 'membership_add_c', description: 'device scope, author A, parent the genesis: C gets rw', signer: 'A', scopeId: s, cmd: add, body: { readable: { ops: membersReadable(addC.ops) } } },
    { name: 'membership_remove_b', description: 'device scope, author A, parent the genesis (concurrent with membership_add_c): B removed (roles 0)', signer: 'A', scopeId: s, cmd: remove, body: { readable: { ops: membersReadable(removeB.ops) } } },
    { name: 'merge_3', description: 'device scope, author A, merges the three children of the genesis given unsorted (parents_given); empty payload', signer: 'A', scopeId: s, cmd: merge, parentsGiven: given },
  ];
}

interface Reject {
  name: string;
  /** Which check refuses it: `command` decodeCommandV2, `genesis_body` the genesis body, `genesis_author` §1.3's author rule, `bare_push` the bare push decoder. */
  check: 'command' | 'genesis_body' | 'genesis_author' | 'bare_push';
  reason: 'Malformed' | 'TooLarge' | 'NotPermitted';
  /** Scope id to decode with (null: decoded as a genesis, no scope). */
  scope_id: string | null;
  hex: string;
}

function rejects(ids: Record<Name, Identity>, all: Case[]): Reject[] {
  const { A, B, C } = ids;
  const by = Object.fromEntries(all.map((c) => [c.name, c]));
  const data = by.data_one_parent_100!.cmd;
  const s = by.genesis_device!.cmd.id;
  const p = [s];
  const none = new Uint8Array(0);
  const body = (members: CborValue, over: Partial<Record<'name' | 'flags', CborValue>> = {}): Uint8Array =>
    encodeCbor([1, over.name ?? 'fleet/x', run(16, 0x20), over.flags ?? 0, members, [0, 0, 0]]);
  const sorted = [A, B].sort((x, y) => compareBytes(x.publicKey, y.publicKey));
  const pair = (who: Identity, roles: number): CborValue => [who.publicKey, roles];
  const byKey = (ms: Array<[Identity, number]>): CborValue => ms.sort((x, y) => compareBytes(x[0].publicKey, y[0].publicKey)).map(([w, roles]) => pair(w, roles));
  const genesisWith = (who: Identity, payload: Uint8Array): Uint8Array => rawSigned(who, s, { parents: [], seq: 0, kind: CommandKind.Genesis, payload });
  const seq23 = rawSigned(B, s, { parents: p, seq: 23, kind: CommandKind.Data, payload: none });
  const seqAt = 1 + 1 + 34 + 9; // array head, parents head + one id, author
  const twoParents = [data.id, by.membership_add_c!.cmd.id].sort(compareBytes);
  const r = (name: string, check: Reject['check'], reason: Reject['reason'], scope: Uint8Array | null, bytes: Uint8Array): Reject => ({
    name, check, reason, scope_id: scope === null ? null : hex(scope), hex: hex(bytes),
  });
  return [
    r('kind 1 with a parent', 'command', 'Malformed', null, rawSigned(A, s, { parents: p, seq: 0, kind: 1, payload: none })),
    r('kind 0 without parents', 'command', 'Malformed', s, rawSigned(B, s, { parents: [], seq: 1, kind: 0, payload: none })),
    r('kind 3', 'command', 'Malformed', s, rawSigned(B, s, { parents: p, seq: 1, kind: 3, payload: none })),
    r('a 5-element (0x85) command: the unsigned encoding alone', 'command', 'Malformed', s, unsignedOf(data.bytes)),
    r('null signature (reserved for issue 17)', 'command', 'Malformed', s, rawSigned(B, s, { parents: p, seq: 1, kind: 0, payload: none }, null)),
    r('genesis with seq 1', 'command', 'Malformed', null, rawSigned(A, s, { parents: [], seq: 1, kind: 1, payload: none })),
    r('parents not in ascending order', 'command', 'Malformed', s, rawSigned(A, s, { parents: [twoParents[1]!, twoParents[0]!], seq: 4, kind: 0, payload: none })),
    r('duplicate parent', 'command', 'Malformed', s, rawSigned(A, s, { parents: [data.id, data.id], seq: 4, kind: 0, payload: none })),
    r('non-canonical seq (0x18 0x17 for 23)', 'command', 'Malformed', s, concat(seq23.subarray(0, seqAt), Uint8Array.of(0x18, 0x17), seq23.subarray(seqAt + 1))),
    r('encoding of 1025 bytes', 'command', 'TooLarge', s, rawSigned(B, s, { parents: p, seq: 1, kind: 0, payload: fill(1024 - 116 + 1, 0x07) })),
    r('7 elements outside a bare push', 'command', 'Malformed', s, encodeBarePushV2(data.bytes, 0)),
    r('a bare push with 6 elements (a plain command)', 'bare_push', 'Malformed', null, data.bytes),
    r('genesis members not sorted', 'genesis_body', 'Malformed', null, genesisWith(A, body([pair(sorted[1]!, RWA), pair(sorted[0]!, RWA)]))),
    r('genesis member roles 8', 'genesis_body', 'Malformed', null, genesisWith(A, body([pair(A, 8)]))),
    // Two distinct keys with one 8-byte fingerprint cost ~2^32 hashes to find; the same key twice
    // is the fingerprint duplicate a vector can show.
    r('genesis members with a duplicate fingerprint (the same key twice)', 'genesis_body', 'Malformed', null, genesisWith(A, body([pair(A, RWA), pair(A, RWA)]))),
    r('genesis name with an upper-case letter', 'genesis_body', 'Malformed', null, genesisWith(A, body([pair(A, RWA)], { name: 'fleet/Test' }))),
    r('genesis flags bit 1', 'genesis_body', 'Malformed', null, genesisWith(A, body([pair(A, RWA)], { flags: 2 }))),
    r('genesis authored by a member without A (C is r only)', 'genesis_author', 'NotPermitted', null, genesisWith(C, body(byKey([[A, RWA], [C, Role.Read]])))),
  ];
}

/** The `commands-v2.json` vector file, keyed by file name. */
export function commandsV2Vectors(): Record<string, unknown> {
  const ids: Record<Name, Identity> = { A: identityFromSecret(fill(32, 0x01)), B: identityFromSecret(fill(32, 0x02)), C: identityFromSecret(fill(32, 0x03)) };
  const all = cases(ids);
  const by = Object.fromEntries(all.map((c) => [c.name, c]));
  const data = by.data_one_parent_100!.cmd;
  const fleetId = by.genesis_fleet!.cmd.id;
  const replayed = decodeCommandV2(fleetId, data.bytes);
  return {
    'commands-v2.json': {
      description:
        'Protocol v2 commands (docs/design/v2-scopes.md §2). Byte fields are lowercase hex; seq and kind are JSON numbers. ' +
        'encoding = CBOR [parents, author, seq, kind, payload, signature]; unsigned = CBOR [parents, author, seq, kind, payload] ' +
        '(the encoding with 0x86 → 0x85 and its last 66 bytes removed); id_preimage = "syncwire-gen-v2" ‖ unsigned for a genesis ' +
        '(its id is the scope id), "syncwire-cmd-v2" ‖ scope_id ‖ unsigned otherwise; id = SHA-256(id_preimage); ' +
        'sig_message = "syncwire-sig-v2" ‖ id; signature = Ed25519(secret of signer, sig_message). ' +
        'bare_push body = [parents, author, seq, kind, payload, signature, scope]. rejects: check names the decoder that refuses.',
      identities: Object.entries(ids).map(([name, id]) => ({ name, secret_seed: hex(id.secretKey), public_key: hex(id.publicKey), author: hex(id.author), peer_id: id.peerId })),
      cases: all.map((c) => ({
        name: c.name,
        description: c.description,
        signer: c.signer,
        public_key: hex(ids[c.signer].publicKey),
        scope_id: hex(c.scopeId),
        fields: { parents: c.cmd.parents.map(hex), author: hex(c.cmd.author), seq: c.cmd.seq, kind: c.cmd.kind, payload: hex(c.cmd.payload) },
        ...(c.parentsGiven === undefined ? {} : { parents_given: c.parentsGiven.map(hex) }),
        ...(c.body === undefined ? {} : { body: { hex: hex(c.cmd.payload), readable: c.body.readable } }),
        unsigned: hex(unsignedOf(c.cmd.bytes)),
        id_preimage: hex(idPreimage(c.scopeId, c.cmd)),
        id: hex(c.cmd.id),
        sig_message: hex(signatureMessage(c.cmd.id)),
        signature: hex(c.cmd.signature),
        encoding: hex(c.cmd.bytes),
        length: c.cmd.bytes.length,
      })),
      replay: {
        description: "data_one_parent_100's bytes read as a command of genesis_fleet's scope: another id, and its signature does not verify (§2.4)",
        command: 'data_one_parent_100',
        encoding: hex(data.bytes),
        scope_id: hex(fleetId),
        id_preimage: hex(idPreimage(fleetId, replayed)),
        id: hex(replayed.id),
        signer: 'B',
        verifies: false,
      },
      bare_push: [0, 300].map((n) => {
        const body = encodeBarePushV2(data.bytes, n);
        return { name: `data_one_parent_100 to scope ${n}`, command: 'data_one_parent_100', scope: n, body: hex(body), length: body.length };
      }),
      rejects: rejects(ids, all),
    },
  };
}
