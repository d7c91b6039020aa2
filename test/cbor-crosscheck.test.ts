/**
 * A second CBOR decoder as a cross-check: `cbor-x` (named in the product's brief) must decode every
 * vector, and a large sample of valid messages and commands, to the same value as the project's
 * own strict codec (protocol/cbor.ts) — and the project's codec must refuse the non-canonical and
 * out-of-profile forms that cbor-x accepts. cbor-x is a devDependency only: the codec that runs is
 * the project's (README, "CBOR codec").
 *
 * Mapping between the two: cbor-x decodes byte strings to `Buffer` (a Uint8Array; `copyBuffers`
 * so it does not alias the input), text to strings, arrays to arrays, `null` to null, integers to
 * numbers; the project's codec has no maps, tags or floats at all, so `toReadable` (byte strings
 * as `{"$hex"}`) puts both in one comparable form.
 */
import t from 'tap';
import fc from 'fast-check';
import { Decoder } from 'cbor-x';
import { decodeCbor, encodeCbor, type CborValue } from '../protocol/cbor.js';
import { decodeCommandV2, encodeCommandV2 } from '../protocol/command-v2.js';
import {
  MAX_COMMAND_BYTES, MAX_ERROR_TEXT, MAX_FRAME_BYTES, MAX_HEADS, MAX_PARENTS, MAX_SAMPLE, MAX_VIA,
} from '../protocol/constants.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { fromHex, identityFromSecret } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import type { CborReject } from '../scripts/vectors-cbor.js';
import { int, mulberry32 } from '../testkit/prng.js';
import { loadVectors as load, toReadable } from '../testkit/vectors.js';

const cborx = new Decoder({ useRecords: false, mapsAsObjects: false, copyBuffers: true });
/** cbor-x gives 64-bit integers as bigint; as numbers where exact, so they compare with ours. */
function unBig(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : `bigint ${v}`;
  return Array.isArray(v) ? v.map(unBig) : v;
}
/** The value cbor-x decodes, in readable form (or the error it throws). */
function viaCborX(bytes: Uint8Array): unknown {
  return toReadable(unBig(cborx.decode(bytes) as unknown));
}
const viaOwn = (bytes: Uint8Array): unknown => toReadable(decodeCbor(bytes));

const messagesV = load<{ cases: Array<{ name: string; cbor: string }>; decode_only: Array<{ name: string; cbor: string }> }>('messages-v2.json');
const commandsV = load<{ cases: Array<{ name: string; encoding: string; scope_id: string | null }>; rejects: Array<{ name: string; hex: string }> }>('commands-v2.json');
const cborV = load<{ rejects: CborReject[] }>('cbor.json');
/** The scope the generated commands are made for (any 32 bytes: the id is not compared). */
const SCOPE = new Uint8Array(32).fill(0x5c);

/** Both decoders agree on `bytes`, at the CBOR level and (for a message) field by field. */
function agree(bytes: Uint8Array, kind: 'message' | 'command', scope: Uint8Array | null = SCOPE): string | null {
  const own = viaOwn(bytes);
  const other = viaCborX(bytes);
  if (JSON.stringify(own) !== JSON.stringify(other)) return `CBOR values differ: ${JSON.stringify(own).slice(0, 120)} vs ${JSON.stringify(other).slice(0, 120)}`;
  const arr = cborx.decode(bytes) as unknown[];
  if (kind === 'command') {
    const c = decodeCommandV2(scope, bytes);
    const mine = toReadable([c.parents, c.author, c.seq, c.kind, c.payload, c.signature]);
    return JSON.stringify(mine) === JSON.stringify(toReadable(arr)) ? null : 'command fields differ';
  }
  const m = decodeMessageV2(bytes);
  // The message's fields in wire order are the envelope after its type (or the bare command).
  const mine = toReadable(Array.isArray(arr[0]) ? arr : Object.values(m).slice(1));
  const theirs = toReadable(Array.isArray(arr[0]) ? arr : arr.slice(1, 1 + Object.keys(m).length - 1));
  return JSON.stringify(mine) === JSON.stringify(theirs) ? null : 'message fields differ';
}

t.test('every vector decodes to the same value with cbor-x', async (t) => {
  let n = 0;
  for (const c of messagesV.cases) {
    t.equal(agree(fromHex(c.cbor), 'message'), null, `messages-v2.json ${c.name}`);
    n++;
  }
  for (const c of messagesV.decode_only) {
    t.equal(agree(fromHex(c.cbor), 'message'), null, `messages-v2.json decode_only ${c.name}`);
    n++;
  }
  for (const c of commandsV.cases) {
    t.equal(agree(fromHex(c.encoding), 'command', c.scope_id === null ? null : fromHex(c.scope_id)), null, `commands-v2.json ${c.name}`);
    n++;
  }
  t.ok(n >= 25, `${n} vectors cross-checked`);
});

// ---- generated valid messages and commands --------------------------------------------------

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const id32 = bytes(32);
const cmdBytes = fc.uint8Array({ minLength: 1, maxLength: MAX_COMMAND_BYTES });
const text = fc.string({ unit: 'binary', maxLength: MAX_ERROR_TEXT }).filter((s) => s.length <= MAX_ERROR_TEXT && !/\p{Surrogate}/u.test(s));
const scope = fc.integer({ min: 0, max: 0xffff });
// Only messages with their required fields: the optional trailing ones are not on the wire when absent.
const messageArb: fc.Arbitrary<MessageV2> = fc.oneof(
  fc.record({ type: fc.constant('Hello' as const), version: u32, public_key: bytes(32), max_frame: fc.integer({ min: 0, max: MAX_FRAME_BYTES }), caps: u32, nonce: bytes(16), ephemeral: bytes(32) }),
  fc.record({ type: fc.constant('Auth' as const), signature: bytes(64) }),
  fc.record({ type: fc.constant('PollRequest' as const), scope: u32, session: u32, max_bytes: u32, heads: fc.array(id32, { maxLength: MAX_HEADS }), sample: fc.array(id32, { maxLength: MAX_SAMPLE }), window: u32 }),
  fc.record({ type: fc.constant('PollResponse' as const), scope: u32, session: u32, more: fc.boolean(), gap: fc.boolean(), total: u32, next_poll_ms: u32, heads: fc.array(id32, { maxLength: MAX_HEADS }), items: fc.array(cmdBytes, { maxLength: 6 }) }),
  fc.record({ type: fc.constant('Subscribe' as const), scope: u32, remain_open: u32, max_bytes: u32, sample: fc.array(id32, { maxLength: MAX_SAMPLE }), via: fc.array(bytes(8), { maxLength: MAX_VIA }) }),
  fc.record({ type: fc.constant('SubscribeAck' as const), scope: u32, remain_open: u32, max_bytes: u32 }),
  fc.record({ type: fc.constant('Unsubscribe' as const), scope: u32 }),
  fc.record({ type: fc.constant('Push' as const), scope: u32, remaining: fc.option(u32, { nil: null }), exhausted: fc.boolean(), commands: fc.array(cmdBytes, { maxLength: 6 }) }),
  fc.record({ type: fc.constant('Error' as const), code: u32, message: text, retry_after_ms: fc.option(u32, { nil: null }) }),
  fc.record({ type: fc.constant('ScopesAck' as const), seq: u32, refused: fc.array(fc.tuple(scope, u32), { maxLength: 8 }) }),
);

t.test('10,000 generated valid messages decode to the same value with cbor-x', async (t) => {
  const failures: string[] = [];
  const sample = fc.sample(messageArb, { numRuns: 10_000, seed: 11 });
  for (const m of sample) {
    const b = encodeMessageV2(m);
    const why = agree(b, 'message');
    if (why !== null && failures.length < 5) failures.push(`${m.type}: ${why}`);
  }
  t.same(failures, [], `${sample.length} messages, every type`);
});

t.test('2,000 generated signed commands decode to the same value with cbor-x', async (t) => {
  const signer = identityFromSecret(new Uint8Array(32).fill(9));
  const arb = fc.record({
    parents: fc.uniqueArray(id32, { minLength: 1, maxLength: MAX_PARENTS, comparator: (a, b) => Buffer.compare(a, b) === 0 }),
    seq: fc.oneof(fc.integer({ min: 0, max: 30 }), u32),
    payload: fc.uint8Array({ maxLength: 400 }),
  });
  const failures: string[] = [];
  let n = 0;
  for (const f of fc.sample(arb, { numRuns: 2000, seed: 12 })) {
    const c = encodeCommandV2(SCOPE, { ...f, author: signer.author, kind: 0 }, signer.sign);
    n++;
    const why = agree(c.bytes, 'command');
    if (why !== null && failures.length < 5) failures.push(why);
  }
  t.same(failures, [], `${n} commands`);
});

t.test('whatever mutated input the strict codec accepts, cbor-x decodes the same (20,000 mutants)', async (t) => {
  // The strict codec's accept set must lie inside cbor-x's, with the same values: a mutant the
  // strict codec accepts is a well-formed canonical item, so both must read it alike.
  const corpus = [...messagesV.cases.map((c) => fromHex(c.cbor)), ...commandsV.cases.map((c) => fromHex(c.encoding))];
  const random = mulberry32(0x2545f491);
  const rnd = (n: number): number => int(random, n);
  let accepted = 0;
  const failures: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const b = Uint8Array.from(corpus[rnd(corpus.length)]!);
    const flips = 1 + rnd(3);
    for (let k = 0; k < flips; k++) b[rnd(b.length)]! ^= 1 << rnd(8);
    let own: CborValue;
    try {
      own = decodeCbor(b);
    } catch {
      continue;
    }
    accepted++;
    let other: unknown;
    try {
      other = viaCborX(b);
    } catch (err) {
      if (failures.length < 5) failures.push(`cbor-x refused what the strict codec accepted: ${String(err)}`);
      continue;
    }
    if (JSON.stringify(toReadable(own)) !== JSON.stringify(other) && failures.length < 5) failures.push(`values differ on ${Buffer.from(b).toString('hex').slice(0, 60)}`);
  }
  t.same(failures, []);
  t.ok(accepted > 1000, `${accepted} accepted mutants cross-checked`);
});

/** The CBOR-profile reject vectors (§3): form, not schema. cbor-x is expected to accept most. */
const PROFILE_REJECTS = [
  'non-canonical type (0x18 0x07)',
  'invalid UTF-8 in Error text',
  'float (1.0 as float16)',
  'map',
  'tag 64 on a byte string',
  'undefined (0xf7)',
  'indefinite-length array',
  'declared array length 2^32 (0x9b + 8 bytes)',
  'declared byte string length 2^53 (0x5b)',
  'nesting 5 deep',
  'trailing byte after the message',
  'truncated',
];

t.test('the strict codec refuses all 12 CBOR-profile reject vectors; cbor-x accepts 8 of them', async (t) => {
  const byName = new Map(cborV.rejects.map((r) => [r.name, r]));
  let ownRejects = 0;
  let cborxRejects = 0;
  const cborxAccepts: string[] = [];
  for (const name of PROFILE_REJECTS) {
    const r = byName.get(name);
    if (r === undefined) {
      t.fail(`cbor.json lost the reject vector "${name}"`);
      continue;
    }
    const b = fromHex(r.hex);
    t.throws(() => decodeCbor(b), `strict codec refuses: ${name}`);
    ownRejects++;
    try {
      cborx.decode(b);
      cborxAccepts.push(name);
    } catch {
      cborxRejects++;
    }
  }
  t.equal(ownRejects, 12, 'strict codec: 12 of 12');
  t.equal(cborxRejects, 4, `cbor-x: 4 of 12 (accepts ${cborxAccepts.join('; ')})`);
  // The command-level non-canonical forms too: cbor-x reads them as ordinary values.
  for (const r of [commandsV.rejects.find((x) => x.name === 'non-canonical seq (0x18 0x17 for 23)')!, cborV.rejects.find((x) => x.name === 'indefinite-length array')!]) {
    const name = r.name;
    t.throws(() => decodeCbor(fromHex(r.hex)), `strict codec refuses the command: ${name}`);
    t.doesNotThrow(() => cborx.decode(fromHex(r.hex)), `cbor-x accepts the command: ${name}`);
  }
  // Two encodings of one value would be two command ids: the strict codec keeps one.
  t.same(toReadable(cborx.decode(fromHex('811807'))), toReadable(cborx.decode(encodeCbor([7]))), 'cbor-x: 81 18 07 and 81 07 are the same value');
});
