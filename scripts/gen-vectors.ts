/**
 * Test-vector generator: writes `docs/vectors/{messages,commands}.json` (protocol v1, retired),
 * `{frames,arq}.json` (framing, both versions) and `{commands-v2,membership,messages-v2,horizon,seal,batch}.json`
 * (protocol v2, scripts/vectors-*.ts) from fixed inputs.
 *
 * Everything is deterministic: identities come from fixed 32-byte seeds (0x01…, 0x02…, 0x03…),
 * nonces and X25519 ephemeral secrets (0x11…, 0x22…) are fixed, and ed25519 signatures and
 * ChaCha20-Poly1305 are deterministic, so a rerun writes identical files.
 * Run with `make vectors`; `test/protocol-vectors.test.ts` checks every vector both ways (decode
 * equals the readable form, encode is byte-identical).
 *
 * Readable form (documented in docs/PROTOCOL.md §13): a byte string is `{"$hex": "…"}`, every
 * other value is plain JSON (`null` for CBOR null). In `commands.json` the fields are known to be
 * bytes, so they are plain lowercase hex strings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32 } from '../protocol/crc32.js';
import {
  authTranscript,
  Capability,
  cobsEncode,
  encodeBarePush,
  encodeCbor,
  encodeCommand,
  encodeMessage,
  encodeSerialFrame,
  encodeTcpFrame,
  identityFromSecret,
  MAX_FRAME_BYTES,
  MessageType,
  PROTOCOL_VERSION,
  ReasonCode,
  SerialFrameDecoder,
  signedBytesOf,
  TcpFrameDecoder,
  toHex,
  type Command,
  type Hello,
  type Identity,
  type Message,
} from '../protocol/index.js';
import { concat } from '../testkit/bytes.js';
import { repoRoot } from './repo-root.js';
import { arqExchange, ARQ_EXCHANGE_OPTIONS, type ArqStep } from './arq-vectors.js';
import { batchVectors } from './vectors-batch.js';
import { EXHAUSTING_PUSH, exhaustingPush, TRIMMED_POLL, trimmedPoll } from './budget-vectors.js';
import { commandsV2Vectors } from './vectors-commands-v2.js';
import { horizonVectors } from './vectors-horizon.js';
import { membershipVectors } from './vectors-membership.js';
import { messagesV2Vectors } from './vectors-messages-v2.js';
import { sealVectors } from './vectors-seal.js';

/** JSON form of a value with byte strings as `{"$hex": "…"}`. */
export type Readable = null | boolean | number | string | { $hex: string } | Readable[] | { [k: string]: Readable };

/** Readable form of a decoded message or CBOR value. */
export function toReadable(v: unknown): Readable {
  if (v instanceof Uint8Array) return { $hex: toHex(v) };
  if (Array.isArray(v)) return v.map(toReadable);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, Readable> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toReadable(x);
    return out;
  }
  return v as Readable;
}

const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);
const seq = (n: number, first: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (first + i) & 0xff);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = toHex;

/** Fixed identities: seeds of 32 bytes 0x01, 0x02, 0x03. */
function identities(): Record<'A' | 'B' | 'C', Identity> {
  return { A: identityFromSecret(fill(32, 0x01)), B: identityFromSecret(fill(32, 0x02)), C: identityFromSecret(fill(32, 0x03)) };
}

interface CommandCase {
  name: string;
  description: string;
  signer: 'A' | 'B' | 'C';
  cmd: Command;
}

/** The small graph every vector file draws from: genesis ← {x, y, z} ← merge. */
function graph(ids: Record<'A' | 'B' | 'C', Identity>): CommandCase[] {
  const { A, B, C } = ids;
  const genesis = encodeCommand({ parents: [], author: A.author, seq: 0, payload: utf8('syncwire genesis') }, A.sign);
  const x = encodeCommand({ parents: [genesis.id], author: A.author, seq: 1, payload: seq(100, 0) }, A.sign);
  const y = encodeCommand({ parents: [genesis.id], author: B.author, seq: 0, payload: utf8('{"t":21.5}') }, B.sign);
  const z = encodeCommand({ parents: [genesis.id], author: C.author, seq: 300, payload: utf8('relay=on') }, C.sign);
  // Given unsorted on purpose: the encoder sorts parents bytewise.
  const merge = encodeCommand({ parents: [z.id, x.id, y.id], author: A.author, seq: 2, payload: new Uint8Array(0) }, A.sign);
  return [
    { name: 'genesis', description: 'no parents, 16-byte UTF-8 payload', signer: 'A', cmd: genesis },
    { name: 'one_parent_100', description: 'one parent (genesis), 100-byte payload 00..63: the brief\'s reference push', signer: 'A', cmd: x },
    { name: 'branch_b', description: 'second author, concurrent child of genesis', signer: 'B', cmd: y },
    { name: 'branch_c', description: 'third author, seq 300 (3-byte integer head)', signer: 'C', cmd: z },
    { name: 'merge3', description: '3-parent merge with an empty payload; parents sorted bytewise', signer: 'A', cmd: merge },
  ];
}

function commandsFile(ids: Record<'A' | 'B' | 'C', Identity>, cases: CommandCase[]): unknown {
  const byName = Object.fromEntries(cases.map((c) => [c.name, c.cmd]));
  const x = byName.one_parent_100!;
  const merge = byName.merge3!;
  // seq 23 fits the initial byte (0x17); 0x18 0x17 is the same value in a longer, non-canonical form.
  const s23 = encodeCommand({ parents: [], author: ids.A.author, seq: 23, payload: new Uint8Array(0) }, ids.A.sign).bytes;
  const seqAt = 1 + 1 + 9; // array head, empty parents array, author (head + 8)
  const nonCanonicalSeq = concat(s23.subarray(0, seqAt), Uint8Array.of(0x18, 0x17), s23.subarray(seqAt + 1));
  const mergeParents = 1; // parents array head sits at offset 1; three 34-byte parents follow
  const p = (i: number): Uint8Array => merge.bytes.subarray(mergeParents + 1 + 34 * i, mergeParents + 1 + 34 * (i + 1));
  const unsorted = concat(merge.bytes.subarray(0, 2), p(1), p(0), p(2), merge.bytes.subarray(2 + 34 * 3));
  const duplicate = concat(merge.bytes.subarray(0, 2), p(0), p(0), p(2), merge.bytes.subarray(2 + 34 * 3));
  const rejects: Array<{ name: string; reason: string; hex: string }> = [
    { name: 'non-canonical seq (0x18 0x17 for 23)', reason: 'Malformed', hex: hex(nonCanonicalSeq) },
    { name: 'parents not in ascending order', reason: 'Malformed', hex: hex(unsorted) },
    { name: 'duplicate parent', reason: 'Malformed', hex: hex(duplicate) },
    { name: 'trailing byte after the command', reason: 'Malformed', hex: hex(concat(x.bytes, Uint8Array.of(0x00))) },
    { name: 'truncated (last byte missing)', reason: 'Malformed', hex: hex(x.bytes.subarray(0, x.bytes.length - 1)) },
    { name: 'signature of 63 bytes', reason: 'Malformed', hex: hex(encodeCbor([[], ids.A.author, 0, new Uint8Array(0), fill(63, 1)])) },
    { name: 'author of 7 bytes', reason: 'Malformed', hex: hex(encodeCbor([[], fill(7, 1), 0, new Uint8Array(0), fill(64, 1)])) },
    { name: 'parent id of 31 bytes', reason: 'Malformed', hex: hex(encodeCbor([[fill(31, 1)], ids.A.author, 0, new Uint8Array(0), fill(64, 1)])) },
    { name: '6-element array (an extra element after the signature)', reason: 'Malformed', hex: hex(concat(Uint8Array.of(0x86), x.bytes.subarray(1), Uint8Array.of(0x00))) },
    { name: '4-element array (signature missing)', reason: 'Malformed', hex: hex(encodeCbor([[], ids.A.author, 0, new Uint8Array(0)])) },
    { name: 'seq 2^32 (above uint32)', reason: 'Malformed', hex: hex(concat(Uint8Array.of(0x85, 0x80), encodeCbor(ids.A.author), Uint8Array.of(0x1b, 0, 0, 0, 1, 0, 0, 0, 0, 0x40), encodeCbor(fill(64, 1)))) },
    { name: 'indefinite-length array', reason: 'Malformed', hex: '9f' + hex(x.bytes.subarray(1)) + 'ff' },
    { name: 'payload as a text string', reason: 'Malformed', hex: hex(encodeCbor([[], ids.A.author, 0, 'text', fill(64, 1)])) },
    { name: 'encoding over 1024 bytes', reason: 'TooLarge', hex: hex(encodeCbor([[], ids.A.author, 0, fill(960, 7), fill(64, 1)])) },
  ];
  return {
    description:
      'Signed commands. Fields are lowercase hex (known byte fields); seq is a JSON number. ' +
      'encoding = CBOR [parents, author, seq, payload, signature]; signed_bytes = "syncwire-cmd-v1" ‖ CBOR [parents, author, seq, payload]; ' +
      'id = SHA-256(encoding); signature = ed25519(secret of signer, signed_bytes). See docs/PROTOCOL.md §5.',
    identities: Object.entries(ids).map(([name, id]) => ({
      name,
      secret_seed: hex(id.secretKey),
      public_key: hex(id.publicKey),
      author: hex(id.author),
      peer_id: id.peerId,
    })),
    cases: cases.map((c) => ({
      name: c.name,
      description: c.description,
      signer: c.signer,
      public_key: hex(ids[c.signer].publicKey),
      fields: { parents: c.cmd.parents.map(hex), author: hex(c.cmd.author), seq: c.cmd.seq, payload: hex(c.cmd.payload) },
      signed_bytes: hex(signedBytesOf(c.cmd.bytes)),
      signature: hex(c.cmd.signature),
      encoding: hex(c.cmd.bytes),
      length: c.cmd.bytes.length,
      id: hex(c.cmd.id),
    })),
    rejects,
  };
}

interface MessageCase {
  name: string;
  description: string;
  message: Message;
  /** Encode as a bare command (the frame body is the command itself). */
  bare?: boolean;
  extra?: Record<string, unknown>;
}

function messagesFile(ids: Record<'A' | 'B' | 'C', Identity>, cmds: CommandCase[]): unknown {
  const { A, B, C } = ids;
  const c = Object.fromEntries(cmds.map((k) => [k.name, k.cmd])) as Record<string, Command>;
  const nonceA = seq(16, 0x10);
  const nonceB = seq(16, 0x20);
  const transcript = authTranscript(nonceA, A.publicKey, B.publicKey);
  const cases: MessageCase[] = [
    {
      name: 'hello_a',
      description: 'A opens the link: max_frame 4096, caps Push|BareCommand',
      message: { type: 'Hello', version: PROTOCOL_VERSION, public_key: A.publicKey, max_frame: 4096, caps: Capability.Push | Capability.BareCommand, nonce: nonceA },
    },
    {
      name: 'hello_b',
      description: 'B opens the link: max_frame 65536, caps Push',
      message: { type: 'Hello', version: PROTOCOL_VERSION, public_key: B.publicKey, max_frame: MAX_FRAME_BYTES, caps: Capability.Push, nonce: nonceB },
    },
    {
      name: 'auth_b',
      description: "B answers A's challenge: ed25519 by B over authTranscript(nonce of hello_a, A's key, B's key)",
      message: { type: 'Auth', signature: B.sign(transcript) },
      extra: { auth: { challenge_nonce: hex(nonceA), challenger_key: hex(A.publicKey), signer_key: hex(B.publicKey), transcript: hex(transcript) } },
    },
    { name: 'keys', description: 'public keys of three authors', message: { type: 'Keys', keys: [A.publicKey, B.publicKey, C.publicKey] } },
    {
      name: 'poll_bootstrap',
      description: 'bootstrap: poll from empty heads with a 4096-byte budget',
      message: { type: 'PollRequest', session: 1, max_bytes: 4096, heads: [], sample: [] },
    },
    {
      name: 'poll_request',
      description: 'requester holds branch_b; its sample names genesis',
      message: { type: 'PollRequest', session: 2, max_bytes: MAX_FRAME_BYTES, heads: [c.branch_b!.id], sample: [c.genesis!.id] },
    },
    {
      name: 'poll_response',
      description: 'first chunk of a bootstrap: 2 of 5 commands, more waiting',
      message: { type: 'PollResponse', session: 1, more: true, total: 5, next_poll_ms: 0, heads: [c.merge3!.id], commands: [c.genesis!.bytes, c.one_parent_100!.bytes] },
    },
    {
      name: 'poll_response_empty',
      description: 'nothing missing; come back in 1500 ms',
      message: { type: 'PollResponse', session: 7, more: false, total: 5, next_poll_ms: 1500, heads: [c.merge3!.id], commands: [] },
    },
    (() => {
      const { request, response } = trimmedPoll(cmds.map((k) => k.cmd));
      return {
        name: 'poll_response_trimmed',
        description: `the agent's answer to a bootstrap poll with max_bytes ${TRIMMED_POLL.max_bytes}: the first commands that fit, more = true (§8.1 step 5)`,
        message: response,
        extra: { answers: toReadable(request), limit: Math.min(TRIMMED_POLL.max_bytes, TRIMMED_POLL.frame_limit) },
      };
    })(),
    (() => {
      const r = exhaustingPush(cmds.map((k) => k.cmd));
      if (r.pushes.length !== 1 || !r.exhausted) throw new Error('the exhausting push vector must be one exhausted Push');
      return {
        name: 'push_exhausting',
        description: `the agent's push to a subscriber whose known head is genesis, with ${EXHAUSTING_PUSH.budget} bytes of budget left: trimmed at the first command that would break the budget, exhausted = true (§9.4); Error BudgetExhausted follows`,
        message: r.pushes[0]!,
        extra: { known_heads: [toReadable(c.genesis!.id)], budget_before: EXHAUSTING_PUSH.budget, budget_after: r.budget_after, frame_limit: EXHAUSTING_PUSH.frame_limit },
      };
    })(),
    {
      name: 'subscribe',
      description: 'subscribe for an hour with a 1 MB budget; known head merge3; also subscribed via one other agent',
      message: { type: 'Subscribe', remain_open: 3600, max_bytes: 1_000_000, sample: [c.merge3!.id], via: [B.author] },
    },
    {
      name: 'subscribe_ack',
      description: 'granted 600 s (clamped) and the full budget',
      message: { type: 'SubscribeAck', remain_open: 600, max_bytes: 1_000_000 },
    },
    { name: 'unsubscribe', description: 'close the subscription', message: { type: 'Unsubscribe' } },
    {
      name: 'push',
      description: 'two new commands after the known head',
      message: { type: 'Push', remaining: 999_000, exhausted: false, commands: [c.branch_b!.bytes, c.branch_c!.bytes] },
    },
    {
      name: 'push_exhausted',
      description: 'budget stopped the push short: Error BudgetExhausted follows',
      message: { type: 'Push', remaining: 40, exhausted: true, commands: [c.merge3!.bytes] },
    },
    {
      name: 'push_bare',
      description: 'bare-command push: the frame body is the command encoding (one_parent_100) itself',
      message: { type: 'Push', remaining: null, exhausted: false, commands: [c.one_parent_100!.bytes] },
      bare: true,
    },
    {
      name: 'error_max_subscriptions',
      description: 'table full; the earliest slot frees in 30 s',
      message: { type: 'Error', code: ReasonCode.MaximumSubscriptionsExceeded, message: 'subscription table full', retry_after_ms: 30_000 },
    },
    {
      name: 'error_unauthorized',
      description: 'key not in the trust list; no retry hint',
      message: { type: 'Error', code: ReasonCode.Unauthorized, message: 'key not trusted', retry_after_ms: null },
    },
  ];
  const msgOut = cases.map((k) => {
    const cbor = k.bare ? encodeBarePush(k.message.type === 'Push' ? k.message.commands[0]! : new Uint8Array(0)) : encodeMessage(k.message);
    return {
      name: k.name,
      description: k.description,
      ...(k.bare ? { bare: true } : {}),
      message: toReadable(k.message),
      cbor: hex(cbor),
      serial_frame: hex(encodeSerialFrame(cbor)),
      tcp_frame: hex(encodeTcpFrame(cbor)),
      ...k.extra,
    };
  });

  // Forward compatibility: extra trailing elements are ignored.
  const decodeOnly = [
    { name: 'unsubscribe_with_trailing_field', description: 'a newer peer appended a field', cbor: hex(encodeCbor([MessageType.Unsubscribe, 'future'])), message: toReadable({ type: 'Unsubscribe' }) },
    {
      name: 'subscribe_ack_with_trailing_fields',
      description: 'two appended fields of any type',
      cbor: hex(encodeCbor([MessageType.SubscribeAck, 600, 4096, 1, [new Uint8Array(2)]])),
      message: toReadable({ type: 'SubscribeAck', remain_open: 600, max_bytes: 4096 }),
    },
  ];

  const id32 = fill(32, 0xab);
  const rejects: Array<{ name: string; reason: string; hex: string }> = [
    { name: 'not an array (integer 7)', reason: 'Malformed', hex: '07' },
    { name: 'empty array', reason: 'Malformed', hex: '80' },
    { name: 'unknown message type 99', reason: 'Malformed', hex: hex(encodeCbor([99])) },
    { name: 'type as text', reason: 'Malformed', hex: hex(encodeCbor(['Unsubscribe'])) },
    { name: 'non-canonical type (0x18 0x07)', reason: 'Malformed', hex: '811807' },
    { name: 'missing field (SubscribeAck without max_bytes)', reason: 'Malformed', hex: hex(encodeCbor([MessageType.SubscribeAck, 600])) },
    { name: 'wrong field type (Push.remaining as text)', reason: 'Malformed', hex: hex(encodeCbor([MessageType.Push, 'x', false, []])) },
    { name: 'integer above uint32 (SubscribeAck.max_bytes = 2^32)', reason: 'Malformed', hex: '8306' + '19' + '0258' + '1b0000000100000000' },
    { name: 'Hello.max_frame above MAX_FRAME_BYTES', reason: 'Malformed', hex: hex(encodeCbor([0, 1, A.publicKey, MAX_FRAME_BYTES + 1, 0, nonceA])) },
    { name: 'PollRequest with 11 heads', reason: 'Malformed', hex: hex(encodeCbor([MessageType.PollRequest, 1, 4096, new Array(11).fill(id32), []])) },
    { name: 'PollRequest head of 31 bytes', reason: 'Malformed', hex: hex(encodeCbor([MessageType.PollRequest, 1, 4096, [fill(31, 1)], []])) },
    { name: 'Error text over 256 characters', reason: 'Malformed', hex: hex(encodeCbor([MessageType.Error, 1, 'x'.repeat(257), null])) },
    { name: 'invalid UTF-8 in Error text', reason: 'Malformed', hex: '84090162c328f6' },
    { name: 'float (1.0 as float16)', reason: 'Malformed', hex: '8306f93c001903e8' },
    { name: 'map', reason: 'Malformed', hex: 'a0' },
    { name: 'tag 64 on a byte string', reason: 'Malformed', hex: '8201d84041ff' },
    { name: 'undefined (0xf7)', reason: 'Malformed', hex: '8209f7' },
    { name: 'indefinite-length array', reason: 'Malformed', hex: '9f07ff' },
    { name: 'declared array length 2^32 (0x9b + 8 bytes)', reason: 'Malformed', hex: '9b0000000100000000' },
    { name: 'declared byte string length 2^53 (0x5b)', reason: 'Malformed', hex: '5b0020000000000000' },
    { name: 'nesting 5 deep', reason: 'Malformed', hex: '8181818180' },
    { name: 'trailing byte after the message', reason: 'Malformed', hex: '810700' },
    { name: 'truncated', reason: 'Malformed', hex: '8306190258' },
  ];
  return {
    description:
      'One case per message type. message = readable form (byte strings as {"$hex": "..."}, CBOR null as null); ' +
      'cbor = the message encoding (a frame body, or one MQTT payload); serial_frame = COBS(cbor ‖ CRC-32 LE) ‖ 00; ' +
      'tcp_frame = u32 BE length ‖ cbor. bare = true: the body is the command encoding itself (a bare-command push). ' +
      'decode_only: decoders must accept these and produce message (encoders never emit them). rejects: decoders must refuse with reason. See docs/PROTOCOL.md.',
    cases: msgOut,
    decode_only: decodeOnly,
    rejects,
  };
}

function framesFile(): unknown {
  const nonZero = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i % 255) + 1);
  const bodies: Array<[string, string, Uint8Array]> = [
    ['small', 'Unsubscribe message, 2 bytes', encodeMessage({ type: 'Unsubscribe' })],
    ['one_byte', 'smallest body, 1 byte', Uint8Array.of(0x07)],
    ['zeros', 'body with zero bytes, including first and last', Uint8Array.of(0x00, 0x00, 0x11, 0x00, 0x22, 0x00)],
    ['run_253', '253 non-zero bytes (COBS code 0xff block boundary near the CRC)', nonZero(253)],
    ['run_254', '254 non-zero bytes: the body alone fills one 0xff COBS block', nonZero(254)],
    ['run_255', '255 non-zero bytes', nonZero(255)],
    ['run_508', '508 non-zero bytes: two full 0xff COBS blocks, then the CRC', nonZero(508)],
    ['zeros_254', '254 zero bytes', new Uint8Array(254)],
  ];
  const serial = bodies.map(([name, description, body]) => {
    const crc = crc32(body) >>> 0;
    const crcLe = new Uint8Array(4);
    new DataView(crcLe.buffer).setUint32(0, crc, true);
    const frame = encodeSerialFrame(body);
    return {
      name,
      description,
      body: hex(body),
      body_length: body.length,
      crc32: `0x${crc.toString(16).padStart(8, '0')}`,
      crc32_le: hex(crcLe),
      cobs: hex(cobsEncode(concat(body, crcLe))),
      frame: hex(frame),
      frame_length: frame.length,
    };
  });
  const tcp = bodies.slice(0, 4).map(([name, description, body]) => ({ name, description, body: hex(body), frame: hex(encodeTcpFrame(body)) }));

  // A received stream: the lone delimiter a sender emits on (re)open, a frame, an empty frame,
  // garbage, a frame whose CRC was corrupted, another frame.
  const f1 = encodeSerialFrame(bodies[0]![2]);
  const f2 = encodeSerialFrame(bodies[2]![2]);
  const bad = encodeSerialFrame(Uint8Array.of(0x81, 0x07));
  bad[1]! ^= 0x01;
  const wire = concat(Uint8Array.of(0x00), f1, Uint8Array.of(0x00), Uint8Array.of(0x05, 0x99, 0x00), bad, f2);
  const r = new SerialFrameDecoder().push(wire);
  // Over a 1000-byte cap: a 1200-byte body overflows the receive buffer; 1003 zero bytes COBS-encode
  // to only 1008 bytes and fit the buffer, but the decoded body is still over the cap.
  const tooBig = concat(encodeSerialFrame(new Uint8Array(1200).fill(0x55)), encodeSerialFrame(new Uint8Array(1003)));
  const r2 = new SerialFrameDecoder(1000).push(concat(tooBig, f1));
  const tcpWire = concat(encodeTcpFrame(bodies[0]![2]), Uint8Array.of(0x00, 0x01, 0x00, 0x01));
  const r3 = new TcpFrameDecoder().push(tcpWire);
  return {
    description:
      'Stream framing. Serial: frame = COBS(body ‖ CRC-32/ISO-HDLC(body) as 4 bytes little-endian) ‖ 00. ' +
      'TCP/TLS: frame = u32 big-endian body length ‖ body. streams: bytes a receiver gets and what it must produce. See docs/PROTOCOL.md §2.',
    serial,
    tcp,
    streams: [
      {
        name: 'serial_resync',
        transport: 'serial',
        max_body: MAX_FRAME_BYTES,
        description: 'leading lone 00 (link open), frame, empty frame (ignored), garbage 05 99 (bad COBS), frame with a flipped bit (CRC), frame',
        wire: hex(wire),
        bodies: r.frames.map(hex),
        errors: r.errors.map((e) => e.reason),
      },
      {
        name: 'serial_too_large',
        transport: 'serial',
        max_body: 1000,
        description: 'to a receiver capped at 1000 bytes: a 1200-byte body and a 1003-byte all-zero body are discarded (TooLarge); the next frame decodes',
        wire: hex(concat(tooBig, f1)),
        bodies: r2.frames.map(hex),
        errors: r2.errors.map((e) => e.reason),
      },
      {
        name: 'tcp_length_over_cap',
        transport: 'tcp',
        max_body: MAX_FRAME_BYTES,
        description: 'a frame, then a length of 65537: fatal, close the link',
        wire: hex(tcpWire),
        bodies: r3.frames.map(hex),
        errors: r3.errors.map((e) => e.reason),
        fatal: r3.fatal,
      },
    ],
  };
}


function arqFile(): unknown {
  const steps: ArqStep[] = arqExchange(
    encodeMessage({ type: 'PollRequest', session: 2, max_bytes: MAX_FRAME_BYTES, heads: [fill(32, 0x01)], sample: [fill(32, 0x02)] }),
    encodeMessage({ type: 'Unsubscribe' }),
  );
  const polls = steps.flatMap((s) => (s.call === 'poll' ? s.out : []));
  const pick = (what: string, f: (x: (typeof polls)[number]) => boolean): unknown => {
    const x = polls.find(f);
    if (x === undefined) throw new Error(`the ARQ exchange has no ${what}`);
    return { name: what, body: x.body, serial_frame: x.serial_frame, fields: x.fields };
  };
  return {
    description:
      'Serial link layer (docs/PROTOCOL.md §2.1.1). frames: one frame body of each kind with its fields (data as hex; sacked_seqs lists the seqs the sack bits name) and its serial frame. ' +
      'exchange: a script of calls on two endpoints S and R (protocol/serial-arq.ts) at times in ms, built with `options` (epochs: the epochs each endpoint picks, in order); ' +
      'poll lists the frame bodies the call returned (lost: the line dropped it, it is never received), receive lists the messages the call delivered. Replaying the calls on fresh endpoints must give the same outputs.',
    frames: [
      pick('data_start', (x) => x.fields.kind === 'DATA' && x.fields.start),
      pick('data_last', (x) => x.fields.kind === 'DATA' && x.fields.last && !x.fields.start),
      pick('frag', (x) => x.fields.kind === 'FRAG'),
      pick('ack_sack', (x) => x.fields.kind === 'ACK' && x.fields.sack !== 0),
      pick('ack', (x) => x.fields.kind === 'ACK' && x.fields.sack === 0),
      pick('rst', (x) => x.fields.kind === 'RST'),
    ],
    exchange: { options: ARQ_EXCHANGE_OPTIONS, steps },
  };
}

/** Every vector file (v1's commands, messages; the shared frames, arq; protocol v2's), as JSON-ready objects keyed by file name. */
export function buildVectors(): Record<string, unknown> {
  const ids = identities();
  const cmds = graph(ids);
  return {
    'commands.json': commandsFile(ids, cmds),
    'messages.json': messagesFile(ids, cmds),
    'frames.json': framesFile(),
    'arq.json': arqFile(),
    ...commandsV2Vectors(),
    ...membershipVectors(),
    ...messagesV2Vectors(),
    ...horizonVectors(),
    ...sealVectors(),
    ...batchVectors(),
  };
}

function main(): void {
  const out = join(repoRoot(), 'docs', 'vectors');
  mkdirSync(out, { recursive: true });
  for (const [file, data] of Object.entries(buildVectors())) {
    writeFileSync(join(out, file), `${JSON.stringify(data, null, 2)}\n`);
    console.log(`wrote ${join('docs', 'vectors', file)}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
