/**
 * Protocol version 2 messages (protocol/messages-v2.ts, envelope-v2.ts; design §3.2–§3.7): every
 * message both ways, the design's worked encodings and sizes, every schema limit refused, `Error` with and
 * without `scope`, the §3.1 `Hello` order, the bare push, and properties: a fast-check round trip
 * of any valid message, the generated checks agreeing with TypeBox, and decodeMessageV2 throwing
 * nothing but SyncwireError on random bytes and mutated valid encodings.
 */
import fc from 'fast-check';
import t from 'tap';
import { encodeBarePushV2 } from '../protocol/bare-push-v2.js';
import { encodeCbor, type CborValue } from '../protocol/cbor.js';
import { encodeCommandV2 } from '../protocol/command-v2.js';
import { MAX_COMMAND_BYTES, MAX_ERROR_TEXT, MAX_FRAME_BYTES, MAX_HEADS, MAX_SAMPLE, MAX_VIA } from '../protocol/constants.js';
import { CommandKind, MAX_SCOPE_NAME, MAX_SCOPE_NUMBER, MAX_SCOPES_CLOSE, MAX_SCOPES_OPEN, MAX_TRAIN_BYTES, POLL_FIT_ANY_BYTES_V2, SEGMENT_BYTES } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { ReasonCode, SyncwireError } from '../protocol/errors.js';
import { fromHex, identityFromSecret, toHex } from '../protocol/keys.js';
import { messageFieldsV2 } from '../protocol/message-checks-v2.generated.js';
import { MessageTypeV2, validatorsV2, type MessageNameV2, type MessageV2, type PollRequest, type Scopes, type ScopesAck } from '../protocol/messages-v2.js';
import { concat } from '../testkit/bytes.js';
import { reasonOf, toReadable } from '../testkit/vectors.js';

const fill = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);
const idA = fill(32, 0x11);
const idB = fill(32, 0x22);
const A = identityFromSecret(fill(32, 0x01));
const command = encodeCommandV2(idA, { parents: [idB], author: A.author, seq: 1, kind: CommandKind.Data, payload: fill(100, 7) }, A.sign);
const record = encodeCbor([idB, 41, [idA]]);

/** One instance of every v2 message. */
const examples: Record<MessageNameV2, MessageV2> = {
  Hello: { type: 'Hello', version: 2, public_key: A.publicKey, max_frame: 4096, caps: 7, nonce: fill(16, 0x10), ephemeral: fill(32, 0x33) },
  Auth: { type: 'Auth', signature: fill(64, 0x44) },
  PollRequest: { type: 'PollRequest', scope: 0, session: 7, max_bytes: 4096, heads: [idA], sample: [idB], window: 64 },
  PollResponse: { type: 'PollResponse', scope: 1, session: 7, more: true, gap: true, total: 40, next_poll_ms: 1500, heads: [idA], items: [record, command.bytes] },
  Subscribe: { type: 'Subscribe', scope: 300, remain_open: 3600, max_bytes: 1_000_000, sample: [idA], via: [A.author] },
  SubscribeAck: { type: 'SubscribeAck', scope: 300, remain_open: 600, max_bytes: 1_000_000 },
  Unsubscribe: { type: 'Unsubscribe', scope: 0 },
  Push: { type: 'Push', scope: 2, remaining: 999_000, exhausted: false, commands: [command.bytes] },
  Error: { type: 'Error', code: ReasonCode.Busy, message: 'busy', retry_after_ms: 250, scope: 3 },
  Scopes: { type: 'Scopes', seq: 0, open: [[0, idA, 'device/6a3803d5f059902a'], [1, idB, 'fleet/test']], close: [4, 5] },
  ScopesAck: { type: 'ScopesAck', seq: 0, refused: [[1, ReasonCode.NotAMember]] },
};

t.test('every v2 message round-trips; types and field order are as §3.2', async (t) => {
  t.same(Object.keys(examples).sort(), Object.keys(MessageTypeV2).sort(), 'an example per type');
  for (const [name, m] of Object.entries(examples)) {
    const bytes = encodeMessageV2(m);
    t.equal(bytes[1], MessageTypeV2[name as MessageNameV2], `${name}: type number first`);
    const back = decodeMessageV2(bytes);
    t.same(toReadable(back), toReadable(m), `${name}: decode(encode(m)) = m`);
    t.equal(toHex(encodeMessageV2(back)), toHex(bytes), `${name}: re-encoding is byte-identical`);
    t.ok(validatorsV2[name as MessageNameV2].Check(m), `${name}: TypeBox agrees`);
  }
  t.equal(toHex(encodeMessageV2({ type: 'Unsubscribe', scope: 0 })), '820700', 'Unsubscribe of scope 0 is 82 07 00');
});

t.test("the design's worked encodings (§3.3): a Scopes opening a device scope, a windowed poll", async (t) => {
  const scopes = encodeMessageV2({ type: 'Scopes', seq: 0, open: [[0, idA, 'device/6a3803d5f059902a']], close: [] });
  t.equal(toHex(scopes), `840a008183005820${toHex(idA)}77${toHex(new TextEncoder().encode('device/6a3803d5f059902a'))}80`);
  t.equal(scopes.length, 65, '65 bytes');
  const poll = encodeMessageV2({ type: 'PollRequest', scope: 0, session: 7, max_bytes: 4096, heads: [idA], sample: [], window: 64 });
  t.equal(toHex(poll), `87030007191000815820${toHex(idA)}801840`);
  t.equal(poll.length, 45, '45 bytes');
});

t.test('the sizes §3.9 and §3.12 state: POLL_FIT_ANY_BYTES_V2 fits the largest one-item answer; a full Scopes is 889 bytes', async (t) => {
  const max = 0xffffffff;
  const heads = new Array(MAX_HEADS).fill(idA);
  const answer = encodeMessageV2({ type: 'PollResponse', scope: MAX_SCOPE_NUMBER, session: max, more: true, gap: true, total: max, next_poll_ms: max, heads, items: [fill(MAX_COMMAND_BYTES, 0x86)] });
  t.equal(answer.length, POLL_FIT_ANY_BYTES_V2, 'one 1,024-byte item, ten heads, 5-byte integers, a 3-byte scope number');
  const open = Array.from({ length: MAX_SCOPES_OPEN }, (): [number, Uint8Array, string] => [MAX_SCOPE_NUMBER, idA, 'a'.repeat(MAX_SCOPE_NAME)]);
  const scopes = encodeMessageV2({ type: 'Scopes', seq: max, open, close: new Array(MAX_SCOPES_CLOSE).fill(MAX_SCOPE_NUMBER) });
  t.equal(scopes.length, 889, 'the largest Scopes');
});

t.test('the tuples are the scope table\'s structural types (compile time) and decode as arrays', async (t) => {
  const s: { type: 'Scopes'; seq: number; open: [number, Uint8Array, string][]; close: number[] } = examples.Scopes as Scopes;
  const back: Scopes = s;
  const a: { type: 'ScopesAck'; seq: number; refused: [number, number][] } = examples.ScopesAck as ScopesAck;
  const backA: ScopesAck = a;
  const d = decodeMessageV2(encodeMessageV2(back)) as Scopes;
  t.equal(d.open[0]![2], 'device/6a3803d5f059902a');
  t.same((decodeMessageV2(encodeMessageV2(backA)) as ScopesAck).refused, [[1, 16]]);
});

t.test('Error: three fields without scope (the pre-up form), four with it, null kept', async (t) => {
  const pre = encodeMessageV2({ type: 'Error', code: ReasonCode.UnsupportedVersion, message: 'protocol version 1 is not supported; this peer speaks version 2', retry_after_ms: null });
  t.equal(pre[0], 0x84, 'array of 4: type and three fields');
  const preBack = decodeMessageV2(pre);
  t.notOk('scope' in preBack, 'no scope key after decoding a three-field Error');
  const scoped = encodeMessageV2({ type: 'Error', code: ReasonCode.UnknownScope, message: 'unknown scope', retry_after_ms: null, scope: 70_000 });
  t.equal(scoped[0], 0x85, 'array of 5');
  t.same(decodeMessageV2(scoped), { type: 'Error', code: 15, message: 'unknown scope', retry_after_ms: null, scope: 70_000 }, 'any uint32 (UnknownScope echoes the number)');
  const nul = encodeMessageV2({ type: 'Error', code: 7, message: '', retry_after_ms: 5, scope: null });
  t.equal(nul[nul.length - 1], 0xf6, 'explicit null scope is encoded');
  t.same(decodeMessageV2(nul), { type: 'Error', code: 7, message: '', retry_after_ms: 5, scope: null });
  t.equal(reasonOf(() => decodeMessageV2(encodeCbor([9, 7, 'x', null, 'scope']))), 'Malformed', 'scope as text');
  t.equal(reasonOf(() => decodeMessageV2(encodeCbor([9, 7, 'x', null, 2 ** 32]))), 'Malformed', 'scope above uint32');
  t.same(decodeMessageV2(encodeCbor([9, 7, 'x', null, 1, 'future'])), { type: 'Error', code: 7, message: 'x', retry_after_ms: null, scope: 1 }, 'a fifth field is ignored');
});

t.test('Hello: version checked before the ephemeral key (§3.1)', async (t) => {
  const h = examples.Hello as Extract<MessageV2, { type: 'Hello' }>;
  const v1NoEph = encodeCbor([0, 1, h.public_key, h.max_frame, h.caps, h.nonce]);
  const err = (() => {
    try {
      decodeMessageV2(v1NoEph);
    } catch (e) {
      return e as SyncwireError;
    }
    return undefined;
  })();
  t.equal(err?.reason, 'UnsupportedVersion', 'a v1 Hello without ephemeral is refused for its version');
  t.equal(err?.message, 'protocol version 1 is not supported; this peer speaks version 2', 'with the text §3.1 sends back');
  t.throws(() => decodeMessageV2(encodeCbor([0, 2, h.public_key, h.max_frame, h.caps, h.nonce])), { name: 'MalformedError', message: 'Hello without ephemeral key' });
  t.same(toReadable(decodeMessageV2(encodeCbor([0, 1, h.public_key, h.max_frame, h.caps, h.nonce, h.ephemeral]))), toReadable({ ...h, version: 1 }), 'a complete Hello of another version decodes (the session refuses it)');
  t.equal(reasonOf(() => decodeMessageV2(encodeCbor([0, 1, fill(31, 1), h.max_frame, h.caps, h.nonce]))), 'Malformed', 'a bad key is Malformed whatever the version');
  t.equal(reasonOf(() => decodeMessageV2(encodeCbor([0, 1, h.public_key, h.max_frame, h.caps]))), 'Malformed', 'two fields missing: Malformed');
  t.throws(() => encodeMessageV2({ ...h, ephemeral: undefined } as unknown as MessageV2), { name: 'MalformedError' }, 'the encoder requires ephemeral');
});

t.test('bare push: a top-level array whose first element is an array decodes to its Push', async (t) => {
  for (const scope of [0, 23, 300, 0xffffffff]) {
    const body = encodeBarePushV2(command.bytes, scope);
    t.same(toReadable(decodeMessageV2(body)), toReadable({ type: 'Push', scope, remaining: null, exhausted: false, commands: [command.bytes] }), `scope ${scope}`);
  }
  t.equal(reasonOf(() => decodeMessageV2(command.bytes)), 'Malformed', 'a 6-element command alone');
  t.equal(reasonOf(() => decodeMessageV2(concat(encodeBarePushV2(command.bytes, 0).subarray(0, command.bytes.length), encodeCbor('x')))), 'Malformed', 'a 7th element that is not a uint32');
});

/** A valid encoding as its CBOR array (to break one element at a time). */
const arrayOf = (m: MessageV2): CborValue[] => {
  const out: CborValue[] = [MessageTypeV2[m.type]];
  for (const [k, v] of Object.entries(m)) if (k !== 'type') out.push(v as CborValue);
  return out;
};
const openEntry = (n: number, name = 'fleet/test'): CborValue => [n, idA, name];

t.test('rejects: each with the reason, on decode and (where a value can say it) on encode', async (t) => {
  const cases: Array<[string, CborValue]> = [
    ['type 2 (v1 Keys) is unknown', [2, [idA]]],
    ['type 12 is unknown', [12]],
    ['Scopes open number 65,536', [10, 0, [openEntry(MAX_SCOPE_NUMBER + 1)], []]],
    ['Scopes close number 65,536', [10, 0, [], [MAX_SCOPE_NUMBER + 1]]],
    ['ScopesAck refused number 65,536', [11, 0, [[MAX_SCOPE_NUMBER + 1, 16]]]],
    ['9 open entries', [10, 0, Array.from({ length: MAX_SCOPES_OPEN + 1 }, (_, i) => openEntry(i)), []]],
    ['17 close entries', [10, 0, [], Array.from({ length: MAX_SCOPES_CLOSE + 1 }, (_, i) => i)]],
    ['9 refused entries', [11, 0, Array.from({ length: MAX_SCOPES_OPEN + 1 }, (_, i) => [i, 16])]],
    ['name with an upper-case letter', [10, 0, [openEntry(0, 'Fleet/test')], []]],
    ['name of 65 characters', [10, 0, [openEntry(0, 'a'.repeat(MAX_SCOPE_NAME + 1))], []]],
    ['empty name', [10, 0, [openEntry(0, '')], []]],
    ['name starting with a dot', [10, 0, [openEntry(0, '.hidden')], []]],
    ['open entry of 2 elements', [10, 0, [[0, idA]], []]],
    ['open entry of 4 elements', [10, 0, [[0, idA, 'a', 1]], []]],
    ['open entry with a 31-byte id', [10, 0, [[0, fill(31, 1), 'a']], []]],
    ['refused entry of 1 element', [11, 0, [[0]]]],
    ['PollRequest with 11 heads', [3, 0, 1, 4096, new Array(MAX_HEADS + 1).fill(idA), [], 0]],
    ['PollRequest with 101 sample ids', [3, 0, 1, 4096, [], new Array(MAX_SAMPLE + 1).fill(idA), 0]],
    ['PollRequest window above uint32', [3, 0, 1, 4096, [], [], 2 ** 32]],
    ['PollResponse item of 0 bytes', [4, 0, 1, false, false, 0, 0, [], [new Uint8Array(0)]]],
    ['PollResponse item of 1,025 bytes', [4, 0, 1, false, false, 0, 0, [], [fill(MAX_COMMAND_BYTES + 1, 0x86)]]],
    ['PollResponse gap as an integer', [4, 0, 1, false, 0, 0, 0, [], []]],
    ['Subscribe with 17 via ids', [5, 0, 60, 4096, [], new Array(MAX_VIA + 1).fill(A.author)]],
    ['Push remaining as text', [8, 0, 'x', false, []]],
    ['Error text over 256 characters', [9, 1, 'x'.repeat(MAX_ERROR_TEXT + 1), null]],
    ['Unsubscribe scope negative', [7, -1]],
  ];
  for (const [name, value] of cases) {
    t.equal(reasonOf(() => decodeMessageV2(encodeCbor(value))), 'Malformed', `decode: ${name}`);
    const type = Object.entries(MessageTypeV2).find(([, n]) => n === (value as CborValue[])[0])?.[0];
    if (type === undefined) continue;
    const fields = Object.keys(examples[type as MessageNameV2]).filter((k) => k !== 'type');
    const obj = Object.fromEntries([['type', type], ...fields.map((f, i) => [f, (value as CborValue[])[i + 1]])]);
    t.equal(reasonOf(() => encodeMessageV2(obj as unknown as MessageV2)), 'Malformed', `encode: ${name}`);
  }
  const segmentPoll: PollRequest = { type: 'PollRequest', scope: 0, session: 7, max_bytes: 4096, heads: [idA], sample: [], window: 0, elide: true, train_bytes: 0 };
  t.equal(reasonOf(() => decodeMessageV2(encodeCbor([3, 0, 1, 4096, [], [], 0, true, 0, SEGMENT_BYTES - 1]))), 'Malformed', 'decode: PollRequest segment below SEGMENT_BYTES');
  t.equal(reasonOf(() => encodeMessageV2({ ...segmentPoll, segment: SEGMENT_BYTES - 1 })), 'Malformed', 'encode: PollRequest segment below SEGMENT_BYTES');
  t.same(decodeMessageV2(encodeMessageV2({ ...segmentPoll, segment: SEGMENT_BYTES })), { ...segmentPoll, segment: SEGMENT_BYTES }, 'segment SEGMENT_BYTES itself passes');
  t.throws(() => decodeMessageV2(encodeCbor([10, 0, [openEntry(0, 'Fleet')], []])), /Scopes\/open: must be an array of at most 8 items, each an array \[an integer in 0\.\.65535, a byte string of 32 bytes, a text string of 1\.\.64 characters matching/, 'the error names the field and the rule');
  t.same(decodeMessageV2(encodeCbor([10, 0, [openEntry(MAX_SCOPE_NUMBER, 'a'.repeat(MAX_SCOPE_NAME))], [MAX_SCOPE_NUMBER]])), { type: 'Scopes', seq: 0, open: [[MAX_SCOPE_NUMBER, idA, 'a'.repeat(MAX_SCOPE_NAME)]], close: [MAX_SCOPE_NUMBER] }, 'the limits themselves pass');
});

t.test('rejects: a missing field of every message; trailing unknown fields are ignored', async (t) => {
  for (const [name, m] of Object.entries(examples)) {
    const arr = arrayOf(m);
    const fields = messageFieldsV2[name as MessageNameV2];
    const required = 1 + fields.filter((f) => f.optional !== true).length;
    t.equal(reasonOf(() => decodeMessageV2(encodeCbor(arr.slice(0, required - 1)))), 'Malformed', `${name} without its last required field`);
    // Unknown fields go after every known one: pad the optional fields this example leaves out.
    const least = (f: { expect: string }): number => Number(/^an integer in (\d+)\./.exec(f.expect)?.[1] ?? 0);
    const padded = [...arr, ...fields.slice(arr.length - 1).map((f): CborValue => (f.expect.startsWith('a boolean') ? false : f.expect.includes('null') ? null : least(f)))];
    t.same(toReadable(decodeMessageV2(encodeCbor([...padded, 'future', [1]]))), toReadable(decodeMessageV2(encodeCbor(padded))), `${name} with two trailing fields`);
    t.same(toReadable(decodeMessageV2(encodeCbor(arr))), toReadable(m), `${name} without its optional fields`);
  }
});

t.test('rejects: non-canonical, not a message, oversize', async (t) => {
  t.equal(reasonOf(() => decodeMessageV2(fromHex('82071800'))), 'Malformed', 'scope 0 as 0x18 0x00');
  t.equal(reasonOf(() => decodeMessageV2(fromHex('82180700'))), 'Malformed', 'type 7 as 0x18 0x07');
  t.equal(reasonOf(() => decodeMessageV2(fromHex('9f0700ff'))), 'Malformed', 'indefinite-length array');
  t.equal(reasonOf(() => decodeMessageV2(fromHex('820700' + '00'))), 'Malformed', 'a trailing byte');
  t.equal(reasonOf(() => decodeMessageV2(fromHex('80'))), 'Malformed', 'empty array');
  t.equal(reasonOf(() => decodeMessageV2(fromHex('07'))), 'Malformed', 'not an array');
  t.equal(reasonOf(() => decodeMessageV2(encodeCbor(['Scopes', 0, [], []]))), 'Malformed', 'type as text');
  t.equal(reasonOf(() => decodeMessageV2(new Uint8Array(0))), 'Malformed', 'empty input');
  const big: MessageV2 = { type: 'PollResponse', scope: 0, session: 0, more: false, gap: false, total: 0, next_poll_ms: 0, heads: [], items: new Array(70).fill(fill(MAX_COMMAND_BYTES, 0x86)) };
  t.equal(reasonOf(() => encodeMessageV2(big)), 'TooLarge', `encode over ${MAX_FRAME_BYTES} bytes`);
  t.equal(reasonOf(() => decodeMessageV2(new Uint8Array(MAX_FRAME_BYTES + 1))), 'TooLarge', `decode over ${MAX_FRAME_BYTES} bytes`);
  const poll = encodeMessageV2(examples.PollRequest);
  t.equal(reasonOf(() => decodeMessageV2(poll, poll.length - 1)), 'TooLarge', 'decode over the caller\'s cap');
  const hugeBare = encodeCbor([[], A.author, 0, 0, fill(MAX_COMMAND_BYTES, 1), fill(64, 1), 0]);
  t.equal(reasonOf(() => decodeMessageV2(hugeBare)), 'TooLarge', 'bare push over its own cap');
});

// ---------------------------------------------------------------------------------------------
// Properties

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const scopeNo = fc.integer({ min: 0, max: MAX_SCOPE_NUMBER });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const id32 = bytes(32);
const item = fc.uint8Array({ minLength: 1, maxLength: MAX_COMMAND_BYTES });
const wellFormed = (s: string) => !/\p{Surrogate}/u.test(s);
const nameArb = fc
  .tuple(fc.constantFrom(...'abcz09'), fc.array(fc.constantFrom(...'az09._/-'), { maxLength: MAX_SCOPE_NAME - 1 }))
  .map(([first, rest]) => first + rest.join(''));

/** Any schema-valid v2 message (list sizes small for speed; the unit tests hit the limits). */
const messageArb: fc.Arbitrary<MessageV2> = fc.oneof(
  fc.record({ type: fc.constant('Hello' as const), version: u32, public_key: bytes(32), max_frame: fc.integer({ min: 0, max: MAX_FRAME_BYTES }), caps: u32, nonce: bytes(16), ephemeral: bytes(32) }),
  fc.record({ type: fc.constant('Auth' as const), signature: bytes(64) }),
  fc.record({ type: fc.constant('PollRequest' as const), scope: u32, session: u32, max_bytes: u32, heads: fc.array(id32, { maxLength: MAX_HEADS }), sample: fc.array(id32, { maxLength: 12 }), window: u32 }),
  fc.record({
    type: fc.constant('PollRequest' as const), scope: u32, session: u32, max_bytes: u32, heads: fc.array(id32, { maxLength: 2 }), sample: fc.array(id32, { maxLength: 2 }), window: u32,
    elide: fc.boolean(), train_bytes: fc.integer({ min: 0, max: MAX_TRAIN_BYTES }), segment: fc.integer({ min: SEGMENT_BYTES, max: 0xffff_ffff }),
  }),
  fc.record({
    type: fc.constant('PollResponse' as const),
    scope: u32,
    session: u32,
    more: fc.boolean(),
    gap: fc.boolean(),
    total: u32,
    next_poll_ms: u32,
    heads: fc.array(id32, { maxLength: MAX_HEADS }),
    items: fc.array(item, { maxLength: 6 }),
  }),
  fc.record({ type: fc.constant('Subscribe' as const), scope: u32, remain_open: u32, max_bytes: u32, sample: fc.array(id32, { maxLength: 12 }), via: fc.array(bytes(8), { maxLength: MAX_VIA }) }),
  fc.record({ type: fc.constant('SubscribeAck' as const), scope: u32, remain_open: u32, max_bytes: u32 }),
  fc.record({ type: fc.constant('Unsubscribe' as const), scope: u32 }),
  fc.record({ type: fc.constant('Push' as const), scope: u32, remaining: fc.option(u32, { nil: null }), exhausted: fc.boolean(), commands: fc.array(item, { maxLength: 6 }) }),
  fc.record(
    {
      type: fc.constant('Error' as const),
      code: u32,
      message: fc.string({ unit: 'binary', maxLength: MAX_ERROR_TEXT }).filter((s) => s.length <= MAX_ERROR_TEXT && wellFormed(s)),
      retry_after_ms: fc.option(u32, { nil: null }),
      scope: fc.option(u32, { nil: null }),
    },
    { requiredKeys: ['type', 'code', 'message', 'retry_after_ms'] },
  ),
  fc.record({ type: fc.constant('Scopes' as const), seq: u32, open: fc.array(fc.tuple(scopeNo, id32, nameArb), { maxLength: MAX_SCOPES_OPEN }), close: fc.array(scopeNo, { maxLength: MAX_SCOPES_CLOSE }) }),
  fc.record({ type: fc.constant('ScopesAck' as const), seq: u32, refused: fc.array(fc.tuple(scopeNo, u32), { maxLength: MAX_SCOPES_OPEN }) }),
);

t.test('property: decode(encode(m)) = m, re-encoding is byte-identical, TypeBox agrees', async (t) => {
  fc.assert(
    fc.property(messageArb, (m) => {
      const b = encodeMessageV2(m);
      const back = decodeMessageV2(b);
      return JSON.stringify(toReadable(back)) === JSON.stringify(toReadable(m)) && toHex(encodeMessageV2(back)) === toHex(b) && validatorsV2[m.type].Check(m);
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 runs');
});

/** Decoding `b` either succeeds with a message the generated checks and TypeBox both accept, or throws a SyncwireError. */
function decodesOrRefusesTyped(b: Uint8Array): boolean {
  let m: MessageV2;
  try {
    m = decodeMessageV2(b);
  } catch (err) {
    return err instanceof SyncwireError;
  }
  return validatorsV2[m.type].Check(m);
}

t.test('property: on random bytes decodeMessageV2 throws nothing but SyncwireError', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), decodesOrRefusesTyped), { numRuns: 3000 });
  // Random CBOR arrays starting with a v2 type reach the schema checks, not only the CBOR decoder.
  const leaf = fc.oneof(u32, fc.boolean(), fc.constant(null), fc.string({ maxLength: 70 }), fc.uint8Array({ maxLength: 40 }), fc.integer({ min: -5, max: -1 }));
  const value = fc.letrec<{ v: CborValue }>((tie) => ({ v: fc.oneof({ maxDepth: 3 }, leaf, fc.array(tie('v'), { maxLength: 5 })) })).v;
  const shaped = fc.tuple(fc.integer({ min: 0, max: 13 }), fc.array(value, { maxLength: 9 })).map(([ty, rest]) => [ty, ...rest] as CborValue);
  fc.assert(
    fc.property(shaped, (v) => {
      let b: Uint8Array;
      try {
        b = encodeCbor(v);
      } catch {
        return true; // outside the CBOR subset: nothing to decode
      }
      return decodesOrRefusesTyped(b);
    }),
    { numRuns: 3000 },
  );
  t.pass('6000 runs');
});

t.test('property: mutated valid encodings decode to a valid message or a SyncwireError', async (t) => {
  const edit = fc.oneof(
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('cut' as const), at: fc.nat(), byte: fc.constant(0) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  );
  fc.assert(
    fc.property(messageArb, fc.array(edit, { minLength: 1, maxLength: 4 }), (m, edits) => {
      let b = encodeMessageV2(m);
      for (const e of edits) {
        const at = e.at % (b.length + 1);
        if (e.op === 'set' && at < b.length) b[at] = e.byte;
        else if (e.op === 'cut') b = b.subarray(0, at);
        else b = concat(b.subarray(0, at), Uint8Array.of(e.byte), b.subarray(at));
      }
      return decodesOrRefusesTyped(b);
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 runs');
});
