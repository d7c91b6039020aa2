/**
 * Messages (protocol/envelope.ts, messages.ts): a round trip of every type at its limits, the
 * schema limits on encode and decode, the generated checks current, a fast-check round trip of
 * any schema-valid message, and MIN_FRAME_BYTES large enough for the largest envelope.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import {
  Capability,
  decodeMessage,
  encodeBarePush,
  encodeCbor,
  encodeCommand,
  encodeMessage,
  identityFromSecret,
  MAX_COMMAND_BYTES,
  MAX_ERROR_TEXT,
  MAX_FRAME_BYTES,
  MAX_HEADS,
  MAX_KEYS,
  MAX_SAMPLE,
  MAX_VIA,
  MessageType,
  MIN_FRAME_BYTES,
  MIN_POLL_BYTES,
  toHex,
  type Message,
  type MessageName,
} from '../protocol/index.js';
import { reasonOf, toReadable } from '../testkit/vectors.js';

const A = identityFromSecret(new Uint8Array(32).fill(1));
const B = identityFromSecret(new Uint8Array(32).fill(2));

t.test('round trip of every message type', async (t) => {
  const id = (b: number) => new Uint8Array(32).fill(b);
  const cmd = encodeCommand({ parents: [id(1)], author: A.author, seq: 5, payload: Uint8Array.of(1, 2, 3) }, A.sign).bytes;
  const samples: Record<MessageName, Message[]> = {
    Hello: [
      { type: 'Hello', version: 1, public_key: A.publicKey, max_frame: MIN_FRAME_BYTES, caps: 0, nonce: new Uint8Array(16) },
      { type: 'Hello', version: 0xffffffff, public_key: B.publicKey, max_frame: MAX_FRAME_BYTES, caps: Capability.Push | Capability.BareCommand, nonce: new Uint8Array(16).fill(9) },
    ],
    Auth: [{ type: 'Auth', signature: A.sign(Uint8Array.of(1)) }],
    Keys: [
      { type: 'Keys', keys: [] },
      { type: 'Keys', keys: new Array(MAX_KEYS).fill(A.publicKey) },
    ],
    PollRequest: [
      { type: 'PollRequest', session: 0, max_bytes: 0, heads: [], sample: [] },
      { type: 'PollRequest', session: 0xffffffff, max_bytes: 0xffffffff, heads: new Array(MAX_HEADS).fill(id(3)), sample: new Array(MAX_SAMPLE).fill(id(4)) },
    ],
    PollResponse: [
      { type: 'PollResponse', session: 1, more: false, total: 0, next_poll_ms: 0, heads: [], commands: [] },
      { type: 'PollResponse', session: 2, more: true, total: 1e6, next_poll_ms: 60000, heads: [id(5)], commands: [cmd, cmd] },
    ],
    Subscribe: [
      { type: 'Subscribe', remain_open: 0, max_bytes: 0, sample: [], via: [] },
      { type: 'Subscribe', remain_open: 86400, max_bytes: 1 << 30, sample: new Array(MAX_SAMPLE).fill(id(6)), via: new Array(MAX_VIA).fill(B.author) },
    ],
    SubscribeAck: [{ type: 'SubscribeAck', remain_open: 600, max_bytes: 4096 }],
    Unsubscribe: [{ type: 'Unsubscribe' }],
    Push: [
      { type: 'Push', remaining: null, exhausted: false, commands: [cmd] },
      { type: 'Push', remaining: 0, exhausted: true, commands: [] },
    ],
    Error: [
      { type: 'Error', code: 7, message: '', retry_after_ms: 250 },
      { type: 'Error', code: 1, message: 'é€😀'.repeat(MAX_ERROR_TEXT / 4), retry_after_ms: null },
    ],
  };
  for (const [name, list] of Object.entries(samples)) {
    for (const m of list) {
      const bytes = encodeMessage(m);
      const back = decodeMessage(bytes);
      t.same(toReadable(back), toReadable(m), `${name} round trip`);
      t.equal(toHex(encodeMessage(back)), toHex(bytes), `${name} re-encodes identically`);
    }
  }
  // A bare command decodes to a one-command Push with remaining null.
  const bare = decodeMessage(encodeBarePush(cmd));
  t.same(toReadable(bare), toReadable({ type: 'Push', remaining: null, exhausted: false, commands: [cmd] }));
  t.equal(reasonOf(() => encodeBarePush(encodeMessage({ type: 'Unsubscribe' }))), 'Malformed', 'bare push must be a command');
  t.equal(reasonOf(() => encodeBarePush(new Uint8Array(0))), 'Malformed');
});

t.test('schema limits on encode and decode', async (t) => {
  const id = new Uint8Array(32);
  const bad: Array<[string, unknown]> = [
    ['11 heads', { type: 'PollRequest', session: 0, max_bytes: 0, heads: new Array(11).fill(id), sample: [] }],
    ['101 samples', { type: 'Subscribe', remain_open: 0, max_bytes: 0, sample: new Array(101).fill(id), via: [] }],
    ['short nonce', { type: 'Hello', version: 1, public_key: A.publicKey, max_frame: MIN_FRAME_BYTES, caps: 0, nonce: new Uint8Array(15) }],
    ['negative u32', { type: 'SubscribeAck', remain_open: -1, max_bytes: 0 }],
    ['u32 overflow', { type: 'SubscribeAck', remain_open: 2 ** 32, max_bytes: 0 }],
    ['fraction', { type: 'SubscribeAck', remain_open: 1.5, max_bytes: 0 }],
    ['text too long', { type: 'Error', code: 1, message: 'x'.repeat(MAX_ERROR_TEXT + 1), retry_after_ms: null }],
    ['empty command', { type: 'Push', remaining: 1, exhausted: false, commands: [new Uint8Array(0)] }],
    ['command too long', { type: 'Push', remaining: 1, exhausted: false, commands: [new Uint8Array(MAX_COMMAND_BYTES + 1)] }],
    ['unknown type', { type: 'Nope' }],
  ];
  for (const [name, m] of bad) t.equal(reasonOf(() => encodeMessage(m as Message)), 'Malformed', name);
  // Schema-valid but over the frame cap: the encoder refuses what a receiver would refuse.
  const big: Message = { type: 'Push', remaining: 0, exhausted: false, commands: new Array(70).fill(new Uint8Array(MAX_COMMAND_BYTES)) };
  t.equal(reasonOf(() => encodeMessage(big)), 'TooLarge', 'encode over MAX_FRAME_BYTES');
  const bigBytes = encodeCbor([MessageType.Push, 0, false, new Array(70).fill(new Uint8Array(MAX_COMMAND_BYTES))]);
  t.equal(reasonOf(() => decodeMessage(bigBytes)), 'TooLarge', 'decode over MAX_FRAME_BYTES');
  t.equal(reasonOf(() => decodeMessage(encodeMessage({ type: 'Unsubscribe' }), 1)), 'TooLarge', 'decode over a caller cap');
  t.equal(reasonOf(() => decodeMessage(new Uint8Array(0))), 'Malformed', 'empty input');
});

t.test('the generated message checks (v1 and v2) are current; a failed check names the field and the rule', async (t) => {
  const { messageChecksSource, messageChecksSourceV2 } = await import('../scripts/gen-checks.js');
  const committed = readFileSync(new URL('../protocol/message-checks.generated.ts', import.meta.url), 'utf8');
  t.equal(committed, messageChecksSource(), 'protocol/message-checks.generated.ts matches the schemas (run `make vectors`)');
  const committedV2 = readFileSync(new URL('../protocol/message-checks-v2.generated.ts', import.meta.url), 'utf8');
  t.equal(committedV2, messageChecksSourceV2(), 'protocol/message-checks-v2.generated.ts matches the v2 schemas (run `make vectors`)');
  // A decode error names the field and what it must be.
  const bad = encodeCbor([MessageType.PollRequest, 1, 4096, [new Uint8Array(31)], []]);
  t.throws(() => decodeMessage(bad), /PollRequest\/heads: must be an array of at most 10 items, each a byte string of 32 bytes/);
});

t.test('MIN_FRAME_BYTES fits one maximal command in the largest envelope', async (t) => {
  const cmd = new Uint8Array(MAX_COMMAND_BYTES).fill(0x85);
  const heads = new Array(MAX_HEADS).fill(new Uint8Array(32));
  const poll = encodeMessage({ type: 'PollResponse', session: 0xffffffff, more: true, total: 0xffffffff, next_poll_ms: 0xffffffff, heads, commands: [cmd] });
  t.ok(poll.length <= MIN_FRAME_BYTES, `PollResponse ${poll.length} ≤ ${MIN_FRAME_BYTES}`);
  const push = encodeMessage({ type: 'Push', remaining: 0xffffffff, exhausted: true, commands: [cmd] });
  t.ok(push.length <= MIN_FRAME_BYTES, `Push ${push.length} ≤ ${MIN_FRAME_BYTES}`);
  const empty = encodeMessage({ type: 'PollResponse', session: 0xffffffff, more: true, total: 0xffffffff, next_poll_ms: 0xffffffff, heads: [], commands: [] });
  t.ok(MIN_POLL_BYTES >= empty.length, 'a poll budget at the minimum always fits an answer without heads or commands');
});

// ---------------------------------------------------------------------------------------------
// Properties

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const id32 = bytes(32);
const cmdBytes = fc.uint8Array({ minLength: 1, maxLength: MAX_COMMAND_BYTES });
const wellFormed = (s: string) => !/\p{Surrogate}/u.test(s);

/** Any schema-valid message (list sizes kept small enough for speed, limits hit by the unit tests). */
const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('Hello' as const), version: u32, public_key: bytes(32), max_frame: fc.integer({ min: 0, max: MAX_FRAME_BYTES }), caps: u32, nonce: bytes(16) }),
  fc.record({ type: fc.constant('Auth' as const), signature: bytes(64) }),
  fc.record({ type: fc.constant('Keys' as const), keys: fc.array(bytes(32), { maxLength: MAX_KEYS }) }),
  fc.record({ type: fc.constant('PollRequest' as const), session: u32, max_bytes: u32, heads: fc.array(id32, { maxLength: MAX_HEADS }), sample: fc.array(id32, { maxLength: MAX_SAMPLE }) }),
  fc.record({
    type: fc.constant('PollResponse' as const),
    session: u32,
    more: fc.boolean(),
    total: u32,
    next_poll_ms: u32,
    heads: fc.array(id32, { maxLength: MAX_HEADS }),
    commands: fc.array(cmdBytes, { maxLength: 8 }),
  }),
  fc.record({ type: fc.constant('Subscribe' as const), remain_open: u32, max_bytes: u32, sample: fc.array(id32, { maxLength: MAX_SAMPLE }), via: fc.array(bytes(8), { maxLength: MAX_VIA }) }),
  fc.record({ type: fc.constant('SubscribeAck' as const), remain_open: u32, max_bytes: u32 }),
  fc.record({ type: fc.constant('Unsubscribe' as const) }),
  fc.record({ type: fc.constant('Push' as const), remaining: fc.option(u32, { nil: null }), exhausted: fc.boolean(), commands: fc.array(cmdBytes, { maxLength: 8 }) }),
  fc.record({
    type: fc.constant('Error' as const),
    code: u32,
    message: fc.string({ unit: 'binary', maxLength: MAX_ERROR_TEXT }).filter((s) => s.length <= MAX_ERROR_TEXT && wellFormed(s)),
    retry_after_ms: fc.option(u32, { nil: null }),
  }),
);

t.test('property: decode(encode(m)) = m and re-encoding is byte-identical', async (t) => {
  fc.assert(
    fc.property(messageArb, (m) => {
      const b = Uint8Array.from(encodeMessage(m));
      const back = decodeMessage(b);
      return JSON.stringify(toReadable(back)) === JSON.stringify(toReadable(m)) && toHex(encodeMessage(back)) === toHex(b);
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 runs');
});
