/**
 * The genesis body (§1.3) and membership body (§1.5) codecs both ways, every body reject of §10,
 * and the genesis author rule.
 */
import t from 'tap';
import fc from 'fast-check';
import { encodeCbor, type CborValue } from '../protocol/cbor.js';
import { fingerprint } from '../protocol/command.js';
import { decodeGenesisBody, encodeGenesisBody, genesisAuthorKey, type GenesisBody } from '../protocol/genesis.js';
import { decodeMembershipBody, encodeMembershipBody } from '../protocol/membership-body.js';
import { identityFromSecret, toHex } from '../protocol/keys.js';
import { reasonOf } from '../testkit/vectors.js';

const A = identityFromSecret(new Uint8Array(32).fill(1));
const B = identityFromSecret(new Uint8Array(32).fill(2));
const C = identityFromSecret(new Uint8Array(32).fill(3));
const [lo, hi] = [A.publicKey, B.publicKey].sort((x, y) => Buffer.compare(x, y)) as [Uint8Array, Uint8Array];

const body = (over: Partial<GenesisBody> = {}): GenesisBody => ({
  format: 1,
  name: 'device/6a3803d5f059902a',
  nonce: Uint8Array.from({ length: 16 }, (_, i) => i),
  flags: 0,
  members: [
    { publicKey: A.publicKey, roles: 7 },
    { publicKey: B.publicKey, roles: 3 },
  ],
  retention: { maxCommands: 1024, maxBytes: 0, maxAgeS: 2592000 },
  ...over,
});

/** A raw genesis body item, bypassing the encoder's checks. */
const raw = (over: Partial<Record<'format' | 'name' | 'nonce' | 'flags' | 'members' | 'retention', CborValue>> = {}): CborValue[] => [
  over.format ?? 1,
  over.name ?? 'fleet/test',
  over.nonce ?? new Uint8Array(16),
  over.flags ?? 0,
  over.members ?? [
    [lo, 7],
    [hi, 3],
  ],
  over.retention ?? [0, 0, 0],
];
const decodeRaw = (v: CborValue): string => reasonOf(() => decodeGenesisBody(encodeCbor(v)));

t.test('genesis body round trip: members sorted, bytes stable, every field back', async (t) => {
  const b = body({ members: [{ publicKey: hi, roles: 3 }, { publicKey: lo, roles: 7 }], flags: 1 });
  const bytes = encodeGenesisBody(b);
  const d = decodeGenesisBody(bytes);
  t.equal(d.name, b.name);
  t.equal(d.flags, 1);
  t.same(d.retention, b.retention);
  t.equal(toHex(d.nonce), toHex(b.nonce));
  t.same(d.members.map((m) => [toHex(m.publicKey), m.roles]), [[toHex(lo), 7], [toHex(hi), 3]]);
  t.equal(toHex(encodeGenesisBody(d)), toHex(bytes), 're-encoding the decoded body gives the same bytes');
  t.equal(bytes[0], 0x86, 'an array of 6');
  t.equal(toHex(bytes), toHex(encodeCbor(raw({ name: b.name, nonce: b.nonce, flags: 1, members: [[lo, 7], [hi, 3]], retention: [1024, 0, 2592000] }))));
});

t.test('genesis body: extremes that are valid', async (t) => {
  t.equal(decodeGenesisBody(encodeGenesisBody(body({ nonce: new Uint8Array(0) }))).nonce.length, 0, 'empty nonce');
  t.equal(decodeGenesisBody(encodeGenesisBody(body({ name: 'a' + 'b'.repeat(63) }))).name.length, 64, '64-char name');
  t.equal(decodeGenesisBody(encodeGenesisBody(body({ name: '0._/-' }))).name, '0._/-');
  const keys = Array.from({ length: 16 }, (_, i) => ({ publicKey: new Uint8Array(32).fill(i + 1), roles: (i % 7) + 1 }));
  t.equal(decodeGenesisBody(encodeGenesisBody(body({ members: keys }))).members.length, 16, '16 members');
  const max = 0xffffffff;
  t.same(decodeGenesisBody(encodeGenesisBody(body({ retention: { maxCommands: max, maxBytes: max, maxAgeS: max } }))).retention, { maxCommands: max, maxBytes: max, maxAgeS: max });
});

t.test('genesis body rejects (§10): each Malformed', async (t) => {
  t.equal(decodeRaw(raw({ members: [[hi, 3], [lo, 7]] })), 'Malformed', 'unsorted members');
  t.equal(decodeRaw(raw({ members: [[lo, 8]] })), 'Malformed', 'roles 8');
  t.equal(decodeRaw(raw({ members: [[lo, 0]] })), 'Malformed', 'roles 0 in a genesis');
  t.equal(decodeRaw(raw({ members: [[lo, 7], [lo, 3]] })), 'Malformed', 'duplicate fingerprints (the same key twice)');
  t.equal(decodeRaw(raw({ name: 'Fleet/test' })), 'Malformed', 'name with an upper-case letter');
  t.equal(decodeRaw(raw({ flags: 2 })), 'Malformed', 'flags bit 1');
  t.equal(decodeRaw(raw({ flags: 3 })), 'Malformed', 'flags bits 0 and 1');
  t.equal(decodeRaw(raw({ format: 2 })), 'Malformed', 'format 2');
  t.equal(decodeRaw(raw({ format: 0 })), 'Malformed', 'format 0');
  t.equal(decodeRaw(raw().slice(0, 5)), 'Malformed', '5 body elements');
  t.equal(decodeRaw([...raw(), 0]), 'Malformed', '7 body elements');
  const good = encodeCbor(raw());
  t.equal(reasonOf(() => decodeGenesisBody(good)), 'no error', 'the base of these rejects is valid');
  t.equal(reasonOf(() => decodeGenesisBody(Uint8Array.from([...good, 0x00]))), 'Malformed', 'trailing bytes after the item');
  t.equal(reasonOf(() => decodeGenesisBody(good.subarray(0, good.length - 1))), 'Malformed', 'truncated');
  t.equal(reasonOf(() => decodeGenesisBody(new Uint8Array(0))), 'Malformed', 'empty payload');
  t.equal(decodeRaw(raw({ name: '' })), 'Malformed', 'empty name');
  t.equal(decodeRaw(raw({ name: 'a'.repeat(65) })), 'Malformed', '65-char name');
  t.equal(decodeRaw(raw({ name: '-a' })), 'Malformed', 'name starting with -');
  t.equal(decodeRaw(raw({ name: 'é' })), 'Malformed', 'non-ASCII name');
  t.equal(decodeRaw(raw({ name: new Uint8Array(1) })), 'Malformed', 'name as bytes');
  t.equal(decodeRaw(raw({ nonce: new Uint8Array(17) })), 'Malformed', '17-byte nonce');
  t.equal(decodeRaw(raw({ nonce: 'x' })), 'Malformed', 'nonce as text');
  t.equal(decodeRaw(raw({ members: [] })), 'Malformed', 'no members');
  const seventeen = Array.from({ length: 17 }, (_, i) => [new Uint8Array(32).fill(i + 1), 1]);
  t.equal(decodeRaw(raw({ members: seventeen })), 'Malformed', '17 members');
  t.equal(decodeRaw(raw({ members: [[new Uint8Array(31), 7]] })), 'Malformed', '31-byte key');
  t.equal(decodeRaw(raw({ members: [[lo, 7, 0]] })), 'Malformed', 'member of 3 elements');
  t.equal(decodeRaw(raw({ members: [[lo, -1]] })), 'Malformed', 'negative roles');
  t.equal(decodeRaw(raw({ retention: [0, 0] })), 'Malformed', 'retention of 2');
  t.equal(decodeRaw(raw({ retention: [0, 0, 2 ** 32] })), 'Malformed', 'retention above uint32');
  t.equal(decodeRaw(raw({ flags: 2 ** 32 })), 'Malformed', 'flags above uint32');
  t.equal(decodeRaw(raw({ members: [[[lo], 7]] })), 'Malformed', 'nesting 4 within the payload');
  t.equal(decodeRaw([1, 2]), 'Malformed', 'wrong shape');
  t.equal(reasonOf(() => decodeGenesisBody(new Uint8Array(1025))), 'Malformed', 'longer than a command');
});

t.test('genesis encoder refuses what the decoder refuses', async (t) => {
  t.equal(reasonOf(() => encodeGenesisBody(body({ name: 'Upper' }))), 'Malformed');
  t.equal(reasonOf(() => encodeGenesisBody(body({ flags: 2 }))), 'Malformed');
  t.equal(reasonOf(() => encodeGenesisBody(body({ members: [{ publicKey: A.publicKey, roles: 8 }] }))), 'Malformed');
  t.equal(reasonOf(() => encodeGenesisBody(body({ members: [{ publicKey: A.publicKey, roles: 7 }, { publicKey: A.publicKey, roles: 1 }] }))), 'Malformed', 'same key twice');
  t.equal(reasonOf(() => encodeGenesisBody({ ...body(), format: 2 as 1 })), 'Malformed');
});

t.test('genesis author: the A member whose fingerprint is the author', async (t) => {
  const b = decodeGenesisBody(encodeGenesisBody(body({ members: [{ publicKey: A.publicKey, roles: 7 }, { publicKey: B.publicKey, roles: 3 }, { publicKey: C.publicKey, roles: 4 }] })));
  t.equal(toHex(genesisAuthorKey(b, A.author)), toHex(A.publicKey));
  t.equal(toHex(genesisAuthorKey(b, fingerprint(C.publicKey))), toHex(C.publicKey), 'A alone is enough');
  t.equal(reasonOf(() => genesisAuthorKey(b, B.author)), 'NotPermitted', 'a member without A');
  t.equal(reasonOf(() => genesisAuthorKey(b, new Uint8Array(8))), 'NotPermitted', 'not a member');
});

t.test('membership body round trip and rejects', async (t) => {
  const bytes = encodeMembershipBody({ ops: [{ publicKey: hi, roles: 0 }, { publicKey: lo, roles: 3 }] });
  t.equal(toHex(bytes), toHex(encodeCbor([[[lo, 3], [hi, 0]]])), 'sorted, [ops]');
  t.same(decodeMembershipBody(bytes).ops.map((m) => [toHex(m.publicKey), m.roles]), [[toHex(lo), 3], [toHex(hi), 0]]);
  const dec = (v: CborValue): string => reasonOf(() => decodeMembershipBody(encodeCbor(v)));
  t.equal(dec([[[lo, 0]]]), 'no error', 'roles 0 removes');
  t.equal(dec([[[lo, 8]]]), 'Malformed', 'roles 8');
  t.equal(dec([[[hi, 1], [lo, 1]]]), 'Malformed', 'unsorted ops');
  t.equal(dec([[[lo, 1], [lo, 2]]]), 'Malformed', 'the same key twice');
  t.equal(dec([[]]), 'Malformed', 'no ops');
  t.equal(dec([Array.from({ length: 17 }, (_, i) => [new Uint8Array(32).fill(i + 1), 1])]), 'Malformed', '17 ops');
  t.equal(dec([Array.from({ length: 16 }, (_, i) => [new Uint8Array(32).fill(i + 1), 1])]), 'no error', '16 ops');
  t.equal(dec([[[lo, 1]], 0]), 'Malformed', '2 body elements');
  t.equal(dec([]), 'Malformed', '0 body elements');
  t.equal(dec([[[new Uint8Array(33), 1]]]), 'Malformed', '33-byte key');
  t.equal(reasonOf(() => decodeMembershipBody(Uint8Array.from([...bytes, 0xf6]))), 'Malformed', 'trailing bytes');
  t.equal(reasonOf(() => encodeMembershipBody({ ops: [] })), 'Malformed', 'encoder: no ops');
  t.equal(reasonOf(() => encodeMembershipBody({ ops: [{ publicKey: lo, roles: 9 }] })), 'Malformed', 'encoder: roles 9');
});

t.test('property: bodies round-trip byte-exactly', async (t) => {
  const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
  fc.assert(
    fc.property(fc.uniqueArray(key, { minLength: 1, maxLength: 16, selector: (k) => toHex(k) }), fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 16, maxLength: 16 }), (keys, roles) => {
      const ops = keys.map((publicKey, i) => ({ publicKey, roles: roles[i]! }));
      const bytes = encodeMembershipBody({ ops });
      const members = ops.map((m) => ({ ...m, roles: m.roles || 1 }));
      const g = encodeGenesisBody(body({ members }));
      return toHex(encodeMembershipBody(decodeMembershipBody(bytes))) === toHex(bytes) && toHex(encodeGenesisBody(decodeGenesisBody(g))) === toHex(g);
    }),
    { numRuns: 100 },
  );
  t.pass('100 random bodies');
});
