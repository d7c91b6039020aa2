/**
 * Command encoding v2 (docs/design/v2-scopes.md §2), horizon records (§3.5) and the v2 bare push
 * (§3.6): both ways, every structural reject, property tests with fast-check (round trip, id
 * independent of the signature, cross-scope replay) and a capped fuzz of the decoder.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { decodeBarePushV2, encodeBarePushV2, isBarePushV2, MAX_BARE_PUSH_BYTES } from '../protocol/bare-push-v2.js';
import { decodeCbor, encodeCbor, type CborValue } from '../protocol/cbor.js';
import { compareBytes } from '../protocol/command.js';
import {
  commandIdV2,
  decodeCommandV2,
  encodeCommandV2,
  genesisIdOf,
  signatureMessage,
  unsignedOf,
  verifyCommandV2,
  verifyCommandV2Async,
  type UnsignedCommandV2,
} from '../protocol/command-v2.js';
import { CommandKind, type CommandKindValue } from '../protocol/constants-v2.js';
import { SyncwireError } from '../protocol/errors.js';
import { decodeHorizonRecord, encodeHorizonRecord, MAX_HORIZON_RECORD_BYTES } from '../protocol/horizon-record.js';
import { identityFromSecret, toHex } from '../protocol/keys.js';
import { concat } from '../testkit/bytes.js';
import { mutate, randomCbor } from '../testkit/fuzz-inputs.js';
import { prng } from '../testkit/prng.js';
import { reasonOf } from '../testkit/vectors.js';

const fill = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);
const A = identityFromSecret(fill(32, 1));
const B = identityFromSecret(fill(32, 2));
const sig64 = fill(64, 0x5a);
const genesis = encodeCommandV2(null, { parents: [], author: A.author, seq: 0, kind: CommandKind.Genesis, payload: fill(10, 7) }, A.sign);
const scope = genesis.id;
const otherScope = encodeCommandV2(null, { parents: [], author: A.author, seq: 0, kind: CommandKind.Genesis, payload: fill(10, 8) }, A.sign).id;
const data = encodeCommandV2(scope, { parents: [scope], author: B.author, seq: 1, kind: CommandKind.Data, payload: Uint8Array.from({ length: 100 }, (_, i) => i) }, B.sign);
const h = (...parts: Uint8Array[]): string => createHash('sha256').update(concat(...parts)).digest('hex');
const ctx = (s: string): Uint8Array => new TextEncoder().encode(s);
/** A raw 6-array with the given fields (no checks: the decoder's input). */
const raw = (parents: CborValue[], author: CborValue, seq: CborValue, kind: CborValue, payload: CborValue, sig: CborValue = sig64): Uint8Array =>
  encodeCbor([parents, author, seq, kind, payload, sig]);
const ids = [fill(32, 1), fill(32, 2), fill(32, 3)];

t.test('a data command: 215 bytes, slices, id with the scope, signature over ctx ‖ id', async (t) => {
  t.equal(data.bytes.length, 215);
  const d = decodeCommandV2(scope, data.bytes);
  t.same({ ...d }, { ...data });
  const unsigned = unsignedOf(data.bytes);
  t.equal(unsigned.length, 149);
  t.equal(toHex(unsigned), toHex(encodeCbor([[scope], B.author, 1, 0, data.payload])), 'unsigned is the 5-array');
  t.equal(toHex(d.id), h(ctx('syncwire-cmd-v2'), scope, unsigned));
  t.equal(toHex(commandIdV2(scope, CommandKind.Data, unsigned)), toHex(d.id));
  const msg = signatureMessage(d.id);
  t.equal(msg.length, 47);
  t.equal(toHex(msg), toHex(concat(ctx('syncwire-sig-v2'), d.id)));
  t.ok(verifyCommandV2(d, B.publicKey));
  t.ok(await verifyCommandV2Async(d, B.publicKey));
  t.notOk(verifyCommandV2(d, A.publicKey), 'a key that is not the author never verifies');
  t.notOk(await verifyCommandV2Async(d, A.publicKey));
});

t.test('a genesis: its id is H(gen ctx ‖ unsigned), whatever scope id is given', async (t) => {
  const unsigned = unsignedOf(genesis.bytes);
  t.equal(toHex(genesis.id), h(ctx('syncwire-gen-v2'), unsigned));
  t.equal(toHex(genesisIdOf(unsigned)), toHex(genesis.id));
  t.equal(toHex(decodeCommandV2(null, genesis.bytes).id), toHex(genesis.id));
  t.equal(toHex(decodeCommandV2(otherScope, genesis.bytes).id), toHex(genesis.id), 'scope id ignored for kind 1');
  t.ok(verifyCommandV2(decodeCommandV2(null, genesis.bytes), A.publicKey));
});

t.test('the encoder sorts parents, drops repeats, and refuses what the decoder would', async (t) => {
  const m = encodeCommandV2(scope, { parents: [ids[2]!, ids[0]!, ids[1]!, ids[0]!], author: A.author, seq: 2, kind: CommandKind.Data, payload: new Uint8Array(0) }, A.sign);
  t.same(m.parents.map(toHex), ids.map(toHex));
  t.equal(toHex(decodeCommandV2(scope, m.bytes).bytes), toHex(m.bytes));
  const base: UnsignedCommandV2 = { parents: [scope], author: A.author, seq: 1, kind: CommandKind.Data, payload: new Uint8Array(0) };
  const enc = (c: Partial<UnsignedCommandV2>, s: Uint8Array | null = scope, sign = A.sign): string => reasonOf(() => encodeCommandV2(s, { ...base, ...c }, sign));
  t.equal(enc({ payload: fill(1024 - 116 + 1, 0) }), 'TooLarge');
  t.equal(enc({ kind: CommandKind.Genesis }, null), 'Malformed', 'genesis with a parent');
  t.equal(enc({ kind: CommandKind.Genesis, parents: [], seq: 1 }, null), 'Malformed', 'genesis with seq 1');
  t.equal(enc({ parents: [] }), 'Malformed', 'data without parents');
  t.equal(enc({ kind: 3 as CommandKindValue }), 'Malformed');
  t.equal(enc({}, null), 'Malformed', 'data without a scope id');
  t.equal(enc({}, fill(31, 0)), 'Malformed', 'scope id of 31 bytes');
  t.equal(enc({ author: fill(7, 0) }), 'Malformed');
  t.equal(enc({ seq: 2 ** 32 }), 'Malformed');
  t.equal(enc({ parents: Array.from({ length: 17 }, (_, i) => fill(32, i)) }), 'Malformed');
  t.equal(enc({}, scope, () => fill(63, 0)), 'Malformed', 'a 63-byte signature');
  t.equal(reasonOf(() => commandIdV2(fill(5, 0), CommandKind.Data, new Uint8Array(1))), 'Malformed');
});

t.test('decoder rejects (§2.1, §10)', async (t) => {
  const p = [ids[0]!];
  const s23 = raw(p, A.author, 23, 0, new Uint8Array(0));
  const seqAt = 1 + 1 + 34 + 9; // head, parents (head + one 34-byte id), author
  const rejects: Array<[string, Uint8Array, string, (Uint8Array | null)?]> = [
    ['kind 1 with a parent', raw(p, A.author, 0, 1, new Uint8Array(0)), 'Malformed', null],
    ['kind 1 with a parent (scope given)', raw(p, A.author, 0, 1, new Uint8Array(0)), 'Malformed'],
    ['kind 0 without parents', raw([], A.author, 0, 0, new Uint8Array(0)), 'Malformed'],
    ['kind 2 without parents', raw([], A.author, 0, 2, new Uint8Array(0)), 'Malformed'],
    ['kind 3', raw(p, A.author, 0, 3, new Uint8Array(0)), 'Malformed'],
    ['kind -1', raw(p, A.author, 0, -1, new Uint8Array(0)), 'Malformed'],
    ['5-element (0x85) command', unsignedOf(data.bytes), 'Malformed'],
    ['null signature', raw(p, A.author, 1, 0, new Uint8Array(0), null), 'Malformed'],
    ['7 elements outside a bare push', encodeBarePushV2(data.bytes, 0), 'Malformed'],
    ['genesis with seq 1', raw([], A.author, 1, 1, new Uint8Array(0)), 'Malformed', null],
    ['parents unsorted', raw([ids[1]!, ids[0]!], A.author, 1, 0, new Uint8Array(0)), 'Malformed'],
    ['parents duplicate', raw([ids[0]!, ids[0]!], A.author, 1, 0, new Uint8Array(0)), 'Malformed'],
    ['17 parents', raw(Array.from({ length: 17 }, (_, i) => fill(32, i)), A.author, 1, 0, new Uint8Array(0)), 'Malformed'],
    ['parent of 31 bytes', raw([fill(31, 1)], A.author, 1, 0, new Uint8Array(0)), 'Malformed'],
    ['author of 7 bytes', raw(p, fill(7, 1), 1, 0, new Uint8Array(0)), 'Malformed'],
    ['signature of 63 bytes', raw(p, A.author, 1, 0, new Uint8Array(0), fill(63, 0)), 'Malformed'],
    ['seq 2^32', raw(p, A.author, 2 ** 32, 0, new Uint8Array(0)), 'Malformed'],
    ['seq -1', raw(p, A.author, -1, 0, new Uint8Array(0)), 'Malformed'],
    ['payload as text', raw(p, A.author, 1, 0, 'x'), 'Malformed'],
    ['payload as an array (nesting 3)', raw(p, A.author, 1, 0, [[]]), 'Malformed'],
    ['non-canonical integer (seq 0x18 0x17)', concat(s23.subarray(0, seqAt), Uint8Array.of(0x18, 0x17), s23.subarray(seqAt + 1)), 'Malformed'],
    ['trailing byte', concat(data.bytes, Uint8Array.of(0)), 'Malformed'],
    ['truncated', data.bytes.subarray(0, data.bytes.length - 1), 'Malformed'],
    ['data decoded without a scope id', data.bytes, 'Malformed', null],
    ['over 1024 bytes', raw(p, A.author, 1, 0, fill(1024 - 116 + 1, 0)), 'TooLarge'],
  ];
  for (const [name, bytes, reason, s] of rejects) t.equal(reasonOf(() => decodeCommandV2(s === undefined ? scope : s, bytes)), reason, name);
  t.equal(raw(p, A.author, 1, 0, fill(1024 - 116, 0)).length, 1024, 'the oversize case is one byte over');
  t.equal(reasonOf(() => decodeCommandV2(scope, raw(p, A.author, 1, 0, fill(1024 - 116, 0)))), 'no error', '1024 bytes is accepted');
});

const id32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const arbCommand: fc.Arbitrary<UnsignedCommandV2> = fc.oneof(
  fc.record({
    parents: fc.uniqueArray(id32, { minLength: 1, maxLength: 16, comparator: (a, b) => compareBytes(a, b) === 0 }),
    author: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    seq: fc.nat({ max: 0xffffffff }),
    kind: fc.constantFrom<CommandKindValue>(CommandKind.Data, CommandKind.Membership),
    payload: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({
    parents: fc.constant<Uint8Array[]>([]),
    author: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    seq: fc.constant(0),
    kind: fc.constant<CommandKindValue>(CommandKind.Genesis),
    payload: fc.uint8Array({ maxLength: 300 }),
  }),
);

t.test('property: encode → decode is the identity, and the id is the sliced hash', async (t) => {
  fc.assert(
    fc.property(arbCommand, id32, (cmd, s) => {
      const e = encodeCommandV2(s, cmd, () => sig64);
      const d = decodeCommandV2(cmd.kind === CommandKind.Genesis ? null : s, e.bytes);
      const sorted = [...cmd.parents].sort(compareBytes);
      const expectId = cmd.kind === CommandKind.Genesis ? h(ctx('syncwire-gen-v2'), unsignedOf(e.bytes)) : h(ctx('syncwire-cmd-v2'), s, unsignedOf(e.bytes));
      return (
        toHex(d.bytes) === toHex(e.bytes) && toHex(d.id) === toHex(e.id) && toHex(d.id) === expectId &&
        d.parents.map(toHex).join() === sorted.map(toHex).join() && d.seq === cmd.seq && d.kind === cmd.kind &&
        toHex(d.payload) === toHex(cmd.payload) && toHex(d.author) === toHex(cmd.author)
      );
    }),
    { numRuns: 300 },
  );
  t.pass('round trip holds');
});

t.test('property: the id does not depend on the signature', async (t) => {
  const sig = fc.uint8Array({ minLength: 64, maxLength: 64 });
  fc.assert(
    fc.property(arbCommand, id32, sig, sig, (cmd, s, s1, s2) => {
      const e1 = encodeCommandV2(s, cmd, () => s1);
      const e2 = encodeCommandV2(s, cmd, () => s2);
      const n = e1.bytes.length - 64;
      return toHex(e1.id) === toHex(e2.id) && toHex(e1.bytes.subarray(0, n)) === toHex(e2.bytes.subarray(0, n)) && toHex(unsignedOf(e1.bytes)) === toHex(unsignedOf(e2.bytes));
    }),
    { numRuns: 200 },
  );
  t.pass('same unsigned, same id');
});

t.test('property: a command read in another scope has another id and fails verification (§2.4)', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 1000 }), id32, (payload, seq, other) => {
      fc.pre(toHex(other) !== toHex(scope));
      const e = encodeCommandV2(scope, { parents: [scope], author: B.author, seq, kind: CommandKind.Data, payload }, B.sign);
      const there = decodeCommandV2(other, e.bytes);
      return toHex(there.id) !== toHex(e.id) && !verifyCommandV2(there, B.publicKey) && verifyCommandV2(decodeCommandV2(scope, e.bytes), B.publicKey);
    }),
    { numRuns: 50 },
  );
  t.pass('replay refused');
});

t.test('fuzz: random bytes and mutations only ever raise SyncwireError (command, horizon record, bare push); a command that decodes re-encodes identically', async (t) => {
  const seed = Number(process.env.FUZZ_SEED ?? 0x5eed2);
  t.comment(`FUZZ_SEED=${seed}`);
  const r = prng(seed);
  const record = encodeHorizonRecord({ id: ids[0]!, depth: 300, frontier: [ids[1]!, ids[2]!] });
  const corpus = [data.bytes, genesis.bytes, unsignedOf(data.bytes), encodeBarePushV2(data.bytes, 300), record];
  const typedOnly = (f: () => unknown, input: Uint8Array): void => {
    try {
      f();
    } catch (err) {
      if (!(err instanceof SyncwireError)) t.fail(`untyped ${String(err)} for ${toHex(input)}`);
    }
  };
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    const input = i % 3 === 0 ? randomCbor(r, 3) : mutate(r, r.pick(corpus), corpus);
    typedOnly(() => decodeHorizonRecord(input), input);
    typedOnly(() => isBarePushV2(input) && decodeBarePushV2(input), input);
    let d;
    try {
      d = decodeCommandV2(r.chance(0.2) ? null : scope, input);
    } catch (err) {
      if (!(err instanceof SyncwireError)) t.fail(`untyped ${String(err)} for ${toHex(input)}`);
      continue;
    }
    accepted++;
    const again = encodeCommandV2(scope, d, () => d.signature);
    if (toHex(again.bytes) !== toHex(input) || toHex(again.id) !== toHex(d.id)) t.fail(`accepted ${toHex(input)} does not re-encode`);
  }
  t.comment(`${accepted} mutants accepted`);
  t.pass('no untyped error');
});

t.test('horizon records: both ways, sorted frontier, rejects', async (t) => {
  const r = { id: ids[0]!, depth: 7, frontier: [ids[2]!, ids[1]!] };
  const bytes = encodeHorizonRecord(r);
  t.equal(bytes[0], 0x83);
  t.equal(toHex(bytes), toHex(encodeCbor([ids[0]!, 7, [ids[1]!, ids[2]!]])));
  t.same(decodeHorizonRecord(bytes), { id: ids[0], depth: 7, frontier: [ids[1], ids[2]] });
  const biggest = encodeHorizonRecord({ id: ids[0]!, depth: 2 ** 31 - 1, frontier: Array.from({ length: 16 }, (_, i) => fill(32, i)) });
  t.equal(biggest.length, MAX_HORIZON_RECORD_BYTES);
  t.equal(MAX_HORIZON_RECORD_BYTES, 585);
  const bad: Array<[string, Uint8Array, string]> = [
    ['depth 2^31', encodeCbor([ids[0]!, 2 ** 31, [ids[1]!]]), 'Malformed'],
    ['depth -1', encodeCbor([ids[0]!, -1, [ids[1]!]]), 'Malformed'],
    ['unsorted frontier', encodeCbor([ids[0]!, 1, [ids[2]!, ids[1]!]]), 'Malformed'],
    ['duplicate frontier entry', encodeCbor([ids[0]!, 1, [ids[1]!, ids[1]!]]), 'Malformed'],
    ['17 frontier entries', encodeCbor([ids[0]!, 1, Array.from({ length: 17 }, (_, i) => fill(32, i))]), 'Malformed'],
    ['id of 31 bytes', encodeCbor([fill(31, 0), 1, [ids[1]!]]), 'Malformed'],
    ['frontier entry of 33 bytes', encodeCbor([ids[0]!, 1, [fill(33, 0)]]), 'Malformed'],
    ['4 elements', encodeCbor([ids[0]!, 1, [ids[1]!], 0]), 'Malformed'],
    ['non-canonical depth', Uint8Array.of(0x83, 0x58, 0x20, ...ids[0]!, 0x18, 0x05, 0x80), 'Malformed'],
    ['over 1024 bytes', encodeCbor([fill(1030, 0), 1, []]), 'TooLarge'],
  ];
  for (const [name, b, reason] of bad) t.equal(reasonOf(() => decodeHorizonRecord(b)), reason, name);
  t.equal(reasonOf(() => encodeHorizonRecord({ id: ids[0]!, depth: 2 ** 31, frontier: [] })), 'Malformed');
  t.equal(reasonOf(() => encodeHorizonRecord({ id: ids[0]!, depth: 1, frontier: Array.from({ length: 17 }, (_, i) => fill(32, i)) })), 'Malformed');
  fc.assert(
    fc.property(id32, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.uniqueArray(id32, { maxLength: 16, comparator: (a, b) => compareBytes(a, b) === 0 }), (id, depth, frontier) => {
      const d = decodeHorizonRecord(encodeHorizonRecord({ id, depth, frontier }));
      return toHex(d.id) === toHex(id) && d.depth === depth && d.frontier.map(toHex).join() === [...frontier].sort(compareBytes).map(toHex).join();
    }),
    { numRuns: 200 },
  );
});

t.test('bare push v2: 7 elements, the scope number last, the command sliced back', async (t) => {
  for (const n of [0, 23, 24, 300, 65_535, 2 ** 32 - 1]) {
    const body = encodeBarePushV2(data.bytes, n);
    t.equal(body[0], 0x87);
    t.equal(body.length, data.bytes.length + encodeCbor(n).length, `scope ${n}: length`);
    t.ok(isBarePushV2(body));
    const d = decodeBarePushV2(body);
    t.equal(d.scope, n);
    t.equal(toHex(d.command), toHex(data.bytes), `scope ${n}: command`);
  }
  t.equal(encodeBarePushV2(data.bytes, 0).length, 216, '215-byte command to scope 0');
  t.ok(isBarePushV2(data.bytes), 'a command is recognised, then refused');
  t.notOk(isBarePushV2(encodeCbor([8, 0, 1, false, [data.bytes]])), 'a message is not a bare push');
  t.notOk(isBarePushV2(new Uint8Array(0)));
  t.notOk(isBarePushV2(Uint8Array.of(0x80)));
  t.notOk(isBarePushV2(Uint8Array.of(0x58, 0x01, 0x80)));
  const cmd6 = decodeCbor(data.bytes, 1024, 2) as CborValue[];
  const bad: Array<[string, Uint8Array, string]> = [
    ['6 elements (a plain command)', data.bytes, 'Malformed'],
    ['8 elements', encodeCbor([...cmd6, 0, 0]), 'Malformed'],
    ['7th negative', encodeCbor([...cmd6, -1]), 'Malformed'],
    ['7th a byte string', encodeCbor([...cmd6, new Uint8Array(1)]), 'Malformed'],
    ['7th above uint32', encodeCbor([...cmd6, 2 ** 32]), 'Malformed'],
    ['7th non-canonical', concat(Uint8Array.of(0x87), data.bytes.subarray(1), Uint8Array.of(0x18, 0x05)), 'Malformed'],
    ['first element not an array', encodeCbor([5, 0, 0, 0, 0, 0, 0]), 'Malformed'],
    ['over the size cap', encodeCbor([[], fill(MAX_BARE_PUSH_BYTES, 0), 0, 0, 0, 0, 0]), 'TooLarge'],
  ];
  for (const [name, b, reason] of bad) t.equal(reasonOf(() => decodeBarePushV2(b)), reason, name);
  t.equal(reasonOf(() => encodeBarePushV2(unsignedOf(data.bytes), 0)), 'Malformed', 'only a 6-array command is pushed bare');
  t.equal(reasonOf(() => encodeBarePushV2(data.bytes, -1)), 'Malformed');
});
