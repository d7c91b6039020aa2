/**
 * Protocol layer: test vectors both ways, round trips of every message, commands (encode, decode,
 * verify, canonical form), CBOR strictness, stream framing, and fast-check properties.
 */
import { readFileSync } from 'node:fs';
import { crc32 } from '../protocol/crc32.js';
import fc from 'fast-check';
import t from 'tap';
import {
  authTranscript,
  Capability,
  cobsDecode,
  cobsEncode,
  cobsMaxEncodedLength,
  decodeCbor,
  decodeCommand,
  decodeMessage,
  encodeBarePush,
  encodeCbor,
  encodeCommand,
  encodeMessage,
  encodeSerialFrame,
  encodeTcpFrame,
  fingerprint,
  fnv1aBytes,
  fnv1aString,
  fromHex,
  identityFromSecret,
  inboxFilter,
  inboxTopic,
  MAX_COMMAND_BYTES,
  MAX_ERROR_TEXT,
  MAX_FRAME_BYTES,
  MAX_HEADS,
  MAX_KEYS,
  MAX_PARENTS,
  MAX_SAMPLE,
  MAX_VIA,
  MessageType,
  MIN_FRAME_BYTES,
  MIN_POLL_BYTES,
  presencePeerOf,
  presenceTopic,
  senderOf,
  SerialFrameDecoder,
  serialFrameLength,
  sha256,
  signedBytesOf,
  signingBytes,
  SyncwireError,
  type CborValue,
  TcpFrameDecoder,
  toHex,
  verifySignature,
  type Message,
  type MessageName,
} from '../protocol/index.js';

// ---------------------------------------------------------------------------------------------
// Readable form of the vectors: byte strings are {"$hex": "..."}, everything else plain JSON.

type Readable = null | boolean | number | string | { $hex: string } | Readable[] | { [k: string]: Readable };

function toReadable(v: unknown): Readable {
  if (v instanceof Uint8Array) return { $hex: toHex(v) };
  if (Array.isArray(v)) return v.map(toReadable);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, Readable> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toReadable(x);
    return out;
  }
  return v as Readable;
}

function fromReadable(v: Readable): unknown {
  if (Array.isArray(v)) return v.map(fromReadable);
  if (v !== null && typeof v === 'object') {
    if ('$hex' in v && typeof v.$hex === 'string' && Object.keys(v).length === 1) return fromHex(v.$hex);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromReadable(x as Readable);
    return out;
  }
  return v;
}

function loadVectors<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`../docs/vectors/${file}`, import.meta.url), 'utf8')) as T;
}

interface Reject {
  name: string;
  reason: string;
  hex: string;
}
interface MessagesFile {
  cases: Array<{ name: string; bare?: boolean; message: Readable; cbor: string; serial_frame: string; tcp_frame: string; auth?: Record<string, string> }>;
  decode_only: Array<{ name: string; cbor: string; message: Readable }>;
  rejects: Reject[];
}
interface CommandsFile {
  identities: Array<{ name: string; secret_seed: string; public_key: string; author: string; peer_id: string }>;
  cases: Array<{
    name: string;
    signer: string;
    public_key: string;
    fields: { parents: string[]; author: string; seq: number; payload: string };
    signed_bytes: string;
    signature: string;
    encoding: string;
    length: number;
    id: string;
  }>;
  rejects: Reject[];
}
interface FramesFile {
  serial: Array<{ name: string; body: string; body_length: number; crc32: string; crc32_le: string; cobs: string; frame: string; frame_length: number }>;
  tcp: Array<{ name: string; body: string; frame: string }>;
  streams: Array<{ name: string; transport: 'serial' | 'tcp'; max_body: number; wire: string; bodies: string[]; errors: string[]; fatal?: boolean }>;
}

const messagesV = loadVectors<MessagesFile>('messages.json');
const commandsV = loadVectors<CommandsFile>('commands.json');
const framesV = loadVectors<FramesFile>('frames.json');

/** The reason of the SyncwireError `fn` throws; fails the test on no throw or an untyped error. */
function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SyncwireError) return err.reason;
    return `untyped ${String(err)}`;
  }
  return 'no error';
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

// ---------------------------------------------------------------------------------------------

t.test('message vectors decode to the readable form and encode byte-identically', async (t) => {
  const types = new Set<string>();
  for (const c of messagesV.cases) {
    const cbor = fromHex(c.cbor);
    const decoded = decodeMessage(cbor);
    t.same(toReadable(decoded), c.message, `${c.name}: decode`);
    types.add(decoded.type);
    const msg = fromReadable(c.message) as Message;
    const encoded = c.bare ? encodeBarePush((msg as Extract<Message, { type: 'Push' }>).commands[0]!) : encodeMessage(msg);
    t.equal(toHex(encoded), c.cbor, `${c.name}: encode`);
    t.equal(toHex(encodeSerialFrame(cbor)), c.serial_frame, `${c.name}: serial frame`);
    t.equal(toHex(encodeTcpFrame(cbor)), c.tcp_frame, `${c.name}: tcp frame`);
    const s = new SerialFrameDecoder().push(fromHex(c.serial_frame));
    t.same(s.frames.map(toHex), [c.cbor], `${c.name}: serial decode`);
    const p = new TcpFrameDecoder().push(fromHex(c.tcp_frame));
    t.same(p.frames.map(toHex), [c.cbor], `${c.name}: tcp decode`);
    // Commands carried by messages are valid, verifiable commands of commands.json.
    if (decoded.type === 'Push' || decoded.type === 'PollResponse') {
      for (const bytes of decoded.commands) {
        const cmd = decodeCommand(bytes);
        t.ok(commandsV.cases.some((k) => k.id === toHex(cmd.id)), `${c.name}: carries a known command`);
      }
    }
    if (c.auth !== undefined) {
      const a = c.auth;
      const transcript = authTranscript(fromHex(a.challenge_nonce!), fromHex(a.challenger_key!), fromHex(a.signer_key!));
      t.equal(toHex(transcript), a.transcript, 'auth transcript');
      t.ok(verifySignature(fromHex(a.signer_key!), transcript, (decoded as Extract<Message, { type: 'Auth' }>).signature), 'auth signature verifies');
    }
  }
  t.same([...types].sort(), Object.keys(MessageType).sort(), 'one vector per message type at least');
  t.ok(messagesV.cases.some((c) => c.bare), 'a bare-command push vector');
});

t.test('decode-only vectors: trailing fields are ignored', async (t) => {
  for (const c of messagesV.decode_only) t.same(toReadable(decodeMessage(fromHex(c.cbor))), c.message, c.name);
});

t.test('message reject vectors fail with the stated reason', async (t) => {
  for (const r of messagesV.rejects) t.equal(reasonOf(() => decodeMessage(fromHex(r.hex))), r.reason, r.name);
});

t.test('command vectors: encode, sign, id, decode, verify', async (t) => {
  const ids = new Map(commandsV.identities.map((i) => [i.name, identityFromSecret(fromHex(i.secret_seed))]));
  for (const i of commandsV.identities) {
    const id = ids.get(i.name)!;
    t.equal(toHex(id.publicKey), i.public_key, `${i.name}: public key from seed`);
    t.equal(toHex(fingerprint(id.publicKey)), i.author, `${i.name}: fingerprint`);
    t.equal(id.peerId, i.peer_id, `${i.name}: peer id`);
  }
  for (const c of commandsV.cases) {
    const signer = ids.get(c.signer)!;
    const fields = { parents: c.fields.parents.map(fromHex), author: fromHex(c.fields.author), seq: c.fields.seq, payload: fromHex(c.fields.payload) };
    const enc = encodeCommand(fields, signer.sign);
    t.equal(toHex(enc.bytes), c.encoding, `${c.name}: encoding`);
    t.equal(enc.bytes.length, c.length, `${c.name}: length`);
    t.equal(toHex(enc.id), c.id, `${c.name}: id`);
    t.equal(toHex(enc.signature), c.signature, `${c.name}: signature`);
    t.equal(toHex(signingBytes(fields)), c.signed_bytes, `${c.name}: signing bytes`);
    const dec = decodeCommand(fromHex(c.encoding));
    t.same(
      { parents: dec.parents.map(toHex), author: toHex(dec.author), seq: dec.seq, payload: toHex(dec.payload) },
      c.fields,
      `${c.name}: decoded fields`,
    );
    t.equal(toHex(dec.id), c.id, `${c.name}: decoded id`);
    t.equal(toHex(sha256(fromHex(c.encoding))), c.id, `${c.name}: id = SHA-256(encoding)`);
    t.equal(toHex(signedBytesOf(dec.bytes)), c.signed_bytes, `${c.name}: signed bytes sliced from the encoding`);
    t.ok(verifySignature(fromHex(c.public_key), signedBytesOf(dec.bytes), dec.signature), `${c.name}: verifies`);
  }
});

t.test('command reject vectors fail with the stated reason', async (t) => {
  for (const r of commandsV.rejects) t.equal(reasonOf(() => decodeCommand(fromHex(r.hex))), r.reason, r.name);
});

t.test('frame vectors both ways', async (t) => {
  for (const f of framesV.serial) {
    const body = fromHex(f.body);
    t.equal(body.length, f.body_length);
    t.equal(`0x${(crc32(body) >>> 0).toString(16).padStart(8, '0')}`, f.crc32, `${f.name}: crc`);
    t.equal(toHex(cobsEncode(concat(body, fromHex(f.crc32_le)))), f.cobs, `${f.name}: cobs`);
    t.equal(toHex(encodeSerialFrame(body)), f.frame, `${f.name}: encode`);
    t.equal(fromHex(f.frame).length, f.frame_length);
    t.same(new SerialFrameDecoder().push(fromHex(f.frame)).frames.map(toHex), [f.body], `${f.name}: decode`);
  }
  for (const f of framesV.tcp) {
    t.equal(toHex(encodeTcpFrame(fromHex(f.body))), f.frame, `${f.name}: tcp encode`);
    t.same(new TcpFrameDecoder().push(fromHex(f.frame)).frames.map(toHex), [f.body], `${f.name}: tcp decode`);
  }
  for (const s of framesV.streams) {
    const dec = s.transport === 'serial' ? new SerialFrameDecoder(s.max_body) : new TcpFrameDecoder(s.max_body);
    const r = dec.push(fromHex(s.wire));
    t.same(r.frames.map(toHex), s.bodies, `${s.name}: bodies`);
    t.same(r.errors.map((e) => e.reason), s.errors, `${s.name}: errors`);
    t.equal(r.fatal, s.fatal ?? false, `${s.name}: fatal`);
  }
  t.equal(crc32(new TextEncoder().encode('123456789')) >>> 0, 0xcbf43926, 'CRC-32/ISO-HDLC check value');
});

// ---------------------------------------------------------------------------------------------

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

t.test('commands: verify, tamper, canonical form', async (t) => {
  const g = encodeCommand({ parents: [], author: A.author, seq: 0, payload: Uint8Array.of(1) }, A.sign);
  const h = encodeCommand({ parents: [], author: B.author, seq: 0, payload: Uint8Array.of(2) }, B.sign);
  const [lo, hi] = toHex(g.id) < toHex(h.id) ? [g.id, h.id] : [h.id, g.id];
  const m = encodeCommand({ parents: [hi, lo, hi], author: A.author, seq: 23, payload: new Uint8Array(0) }, A.sign);
  t.same(m.parents.map(toHex), [toHex(lo), toHex(hi)], 'encoder sorts and dedups parents');
  const d = decodeCommand(m.bytes);
  t.equal(toHex(d.id), toHex(m.id));
  t.ok(verifySignature(A.publicKey, signedBytesOf(d.bytes), d.signature), 'verifies');
  t.notOk(verifySignature(B.publicKey, signedBytesOf(d.bytes), d.signature), 'wrong key fails');

  const sigFlip = Uint8Array.from(m.bytes);
  sigFlip[sigFlip.length - 1]! ^= 0x01;
  const ds = decodeCommand(sigFlip);
  t.notOk(verifySignature(A.publicKey, signedBytesOf(ds.bytes), ds.signature), 'tampered signature fails');
  t.not(toHex(ds.id), toHex(m.id), 'tampering changes the id');

  const payloadCmd = encodeCommand({ parents: [], author: A.author, seq: 1, payload: Uint8Array.of(10, 20, 30) }, A.sign);
  const payFlip = Uint8Array.from(payloadCmd.bytes);
  payFlip[payFlip.length - 66 - 1]! ^= 0x80;
  t.notOk(verifySignature(A.publicKey, signedBytesOf(payFlip), decodeCommand(payFlip).signature), 'tampered payload fails');

  // seq 23 is the single byte 0x17 at offset 1 + 1 + 2×34 + 9; 0x18 0x17 is the same number, non-canonical.
  const at = 1 + 1 + 2 * 34 + 9;
  t.equal(m.bytes[at], 0x17);
  t.equal(reasonOf(() => decodeCommand(concat(m.bytes.subarray(0, at), Uint8Array.of(0x18, 0x17), m.bytes.subarray(at + 1)))), 'Malformed', '0x1817 for 23');
  const p0 = m.bytes.subarray(2, 36);
  const p1 = m.bytes.subarray(36, 70);
  t.equal(reasonOf(() => decodeCommand(concat(m.bytes.subarray(0, 2), p1, p0, m.bytes.subarray(70)))), 'Malformed', 'unsorted parents');
  t.equal(reasonOf(() => decodeCommand(concat(m.bytes.subarray(0, 2), p0, p0, m.bytes.subarray(70)))), 'Malformed', 'duplicate parents');
  t.equal(
    reasonOf(() => encodeCommand({ parents: Array.from({ length: MAX_PARENTS + 1 }, (_, i) => new Uint8Array(32).fill(i)), author: A.author, seq: 0, payload: new Uint8Array(0) }, A.sign)),
    'Malformed',
    'too many parents',
  );
  t.equal(reasonOf(() => encodeCommand({ parents: [], author: A.author, seq: 0, payload: new Uint8Array(MAX_COMMAND_BYTES) }, A.sign)), 'TooLarge', 'over the command cap');
  t.equal(reasonOf(() => encodeCommand({ parents: [], author: A.author, seq: -1, payload: new Uint8Array(0) }, A.sign)), 'Malformed', 'negative seq');
  t.equal(reasonOf(() => encodeCommand({ parents: [], author: A.author, seq: 0, payload: new Uint8Array(0) }, () => new Uint8Array(63))), 'Malformed', 'short signature');
  // 100-byte payload, one parent: the size the design notes quote.
  const ref = (s: number) => encodeCommand({ parents: [g.id], author: A.author, seq: s, payload: new Uint8Array(100) }, A.sign).bytes.length;
  t.same([ref(1), ref(24), ref(256), ref(65536)], [214, 215, 216, 218], 'reference command sizes by seq width');
});

t.test('CBOR: canonical integers and lengths, subset, depth', async (t) => {
  const cases: Array<[string, string]> = [
    ['1817', '23 in two bytes'],
    ['1900ff', '255 in three bytes'],
    ['1a0000ffff', '65535 in five bytes'],
    ['1b00000000ffffffff', '2^32-1 in nine bytes'],
    ['3817', '-24 in two bytes'],
    ['5801ff', 'one-byte string with a 1-byte length'],
    ['780161', 'one-char text with a 1-byte length'],
    ['9801' + '00', 'one-element array with a 1-byte length'],
    ['1b0020000000000000', '2^53 (above the safe range)'],
    ['1c', 'reserved additional info 28'],
    ['5f4101ff', 'indefinite byte string'],
    ['c0' + '00', 'tag 0'],
    ['f4f5', 'two items'],
    ['fa00000000', 'float32'],
    ['f820', 'simple value 32'],
  ];
  for (const [h, name] of cases) t.equal(reasonOf(() => decodeCbor(fromHex(h))), 'Malformed', name);
  // 8-byte integers decode to exact numbers, not bigint.
  t.equal(decodeCbor(fromHex('1b0000000100000000')), 2 ** 32);
  t.equal(decodeCbor(fromHex('1b001fffffffffffff')), Number.MAX_SAFE_INTEGER);
  t.equal(decodeCbor(fromHex('3b001ffffffffffffe')), -Number.MAX_SAFE_INTEGER);
  t.same(decodeCbor(fromHex('81818180')), [[[[]]]], 'depth 4 accepted');
  t.same(decodeCbor(fromHex('83f6f4f5')), [null, false, true], 'null, false, true');
  t.equal(decodeCbor(encodeCbor('\ufeffx')), '\ufeffx', 'a leading BOM in a text string is kept (canonical round trip)');
  t.equal(reasonOf(() => decodeCbor(fromHex('8181818180'))), 'Malformed', 'depth 5 refused');
  // Byte strings come out as plain Uint8Array copies.
  const input = fromHex('820043010203');
  const v = decodeCbor(input) as Uint8Array[];
  t.equal(v[1]!.constructor, Uint8Array);
  input[4] = 0xff;
  t.same([...v[1]!], [1, 2, 3], 'decoded bytes do not alias the input');
  for (const n of [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1]) {
    t.doesNotThrow(() => decodeCbor(encodeCbor([n, -n - 1, 'x'.repeat(n % 300), new Uint8Array(n % 1000)])), `encoder output canonical for ${n}`);
  }
});

t.test('serial framing: caps, resync, reset', async (t) => {
  // Zero-rich blocks pack more body into the decoder's buffer than its worst-case sizing assumes:
  // a body a few bytes over the cap must still be refused.
  const cap = 1000;
  for (let n = cap - 2; n <= cap + 6; n++) {
    const r = new SerialFrameDecoder(cap).push(encodeSerialFrame(new Uint8Array(n)));
    if (n <= cap) t.same(r.frames.map((f) => f.length), [n], `${n} zero bytes accepted`);
    else t.same([r.frames.length, r.errors.map((e) => e.reason)], [0, ['TooLarge']], `${n} zero bytes refused`);
  }
  const d = new SerialFrameDecoder();
  const f = encodeSerialFrame(Uint8Array.of(1, 2, 3));
  t.same(d.push(f.subarray(0, 3)).frames, [], 'partial frame buffered');
  d.reset();
  t.same(d.push(f).frames.map(toHex), ['010203'], 'reset dropped the partial frame');
  t.same(d.push(Uint8Array.of(0, 0, 0)), { frames: [], errors: [], fatal: false }, 'empty frames ignored');
  t.same(d.push(concat(Uint8Array.of(0x02, 0x01, 0x00), f)).errors.map((e) => e.reason), ['Malformed'], 'too-short frame reported');
  t.equal(reasonOf(() => encodeSerialFrame(new Uint8Array(MAX_FRAME_BYTES + 1))), 'TooLarge');
  t.same(new SerialFrameDecoder().push(encodeSerialFrame(new Uint8Array(MAX_FRAME_BYTES).fill(0xaa))).frames.map((x) => x.length), [MAX_FRAME_BYTES], 'largest frame');
  // Worst case (no zero byte in body+CRC): 6 bytes of overhead up to 249-byte bodies, then one more per 254.
  t.same([249, 250, 503, 504].map(serialFrameLength), [249 + 6, 250 + 7, 503 + 7, 504 + 8], 'worst-case overhead');
  for (const n of [1, 100, 249, 250, 503, 504, 1000]) {
    const body = new Uint8Array(n).fill(0x5a);
    t.ok(encodeSerialFrame(body).length <= serialFrameLength(n), `${n}: within the bound`);
    t.equal(encodeSerialFrame(new Uint8Array(n)).length, n + 6, `${n} zero bytes: exactly 6`);
  }
});

t.test('tcp framing: lengths, fatal state, empty body', async (t) => {
  const d = new TcpFrameDecoder(100);
  const f = encodeTcpFrame(Uint8Array.of(9, 8, 7));
  t.same(f.subarray(0, 4), Uint8Array.of(0, 0, 0, 3), 'big-endian length');
  t.same(d.push(concat(f, encodeTcpFrame(new Uint8Array(0)), f)).frames.map(toHex), ['090807', '', '090807']);
  const over = d.push(Uint8Array.of(0, 0, 0, 101));
  t.same([over.fatal, over.errors.map((e) => e.reason)], [true, ['TooLarge']], 'length over cap is fatal');
  t.same(d.push(f), { frames: [], errors: [], fatal: true }, 'stays dead');
  d.reset();
  t.same(d.push(f).frames.map(toHex), ['090807'], 'reset revives it');
  t.same(d.push(Uint8Array.of(0, 0, 0, 100)).fatal, false, 'exactly the cap is fine');
});

t.test('FNV-1a, MQTT topics', async (t) => {
  t.equal(fnv1aString(''), 0x811c9dc5);
  t.equal(fnv1aString('a'), 0xe40c292c);
  t.equal(fnv1aString('foobar'), 0xbf9cf968);
  t.equal(fnv1aBytes(new TextEncoder().encode('foobar')), 0xbf9cf968);
  t.equal(fnv1aString(A.peerId), fnv1aBytes(new TextEncoder().encode(A.peerId)));
  t.equal(inboxTopic('syncwire', B.peerId, A.peerId), `syncwire/${B.peerId}/in/${A.peerId}`);
  t.equal(senderOf('syncwire', B.peerId, inboxTopic('syncwire', B.peerId, A.peerId)), A.peerId);
  t.equal(senderOf('syncwire', B.peerId, `syncwire/${B.peerId}/in/x`), undefined);
  t.equal(inboxFilter('syncwire', A.peerId), `syncwire/${A.peerId}/in/+`);
  t.equal(presencePeerOf('syncwire', presenceTopic('syncwire', A.peerId)), A.peerId);
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

t.test('the generated message checks are current; a failed check names the field and the rule', async (t) => {
  const { messageChecksSource } = await import('../scripts/gen-checks.js');
  const committed = readFileSync(new URL('../protocol/message-checks.generated.ts', import.meta.url), 'utf8');
  t.equal(committed, messageChecksSource(), 'protocol/message-checks.generated.ts matches the schemas (run `make vectors`)');
  // A decode error names the field and what it must be.
  const bad = encodeCbor([MessageType.PollRequest, 1, 4096, [new Uint8Array(31)], []]);
  t.throws(() => decodeMessage(bad), /PollRequest\/heads: must be an array of at most 10 items, each a byte string of 32 bytes/);
});

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

t.test('property: the CBOR codec round-trips its subset; a mutated encoding decodes canonically or fails typed', async (t) => {
  const { value } = fc.letrec<{ value: CborValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.maxSafeInteger(),
      fc.integer({ min: -70000, max: 70000 }),
      fc.boolean(),
      fc.constant(null),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.array(tie('value'), { maxLength: 6 }),
    ),
  }));
  const depth = (v: CborValue): number => (Array.isArray(v) ? 1 + Math.max(0, ...v.map(depth)) : 0);
  fc.assert(
    fc.property(value.filter((v) => depth(v) <= 4), fc.nat(), fc.integer({ min: 1, max: 255 }), (v, at, xor) => {
      const bytes = encodeCbor(v);
      if (JSON.stringify(toReadable(decodeCbor(bytes))) !== JSON.stringify(toReadable(v))) return false;
      const bad = Uint8Array.from(bytes);
      bad[at % bad.length]! ^= xor;
      try {
        return toHex(encodeCbor(decodeCbor(bad))) === toHex(bad);
      } catch (err) {
        return err instanceof SyncwireError;
      }
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 runs');
});

t.test('property: commands round trip and verify', async (t) => {
  fc.assert(
    fc.property(
      fc.array(id32, { maxLength: MAX_PARENTS }),
      u32,
      fc.uint8Array({ maxLength: 600 }),
      fc.boolean(),
      (parents, seq, payload, useB) => {
        const who = useB ? B : A;
        const c = encodeCommand({ parents, author: who.author, seq, payload }, who.sign);
        const d = decodeCommand(c.bytes);
        return (
          toHex(d.id) === toHex(c.id) &&
          d.seq === seq &&
          toHex(d.payload) === toHex(payload) &&
          d.parents.length === new Set(parents.map(toHex)).size &&
          toHex(signedBytesOf(d.bytes)) === toHex(signingBytes({ parents, author: who.author, seq, payload })) &&
          verifySignature(who.publicKey, signedBytesOf(d.bytes), d.signature)
        );
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 runs');
});

/** Split `wire` at the given cut points (any positions, duplicates allowed). */
function splitAt(wire: Uint8Array, cuts: number[]): Uint8Array[] {
  const pos = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of pos) {
    out.push(wire.subarray(prev, p));
    prev = p;
  }
  out.push(wire.subarray(prev));
  return out;
}

t.test('property: serial frames split anywhere, with garbage between them, decode the same', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.option(fc.uint8Array({ maxLength: 12 }), { nil: undefined })), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      fc.boolean(),
      (items, cuts, leadingZero) => {
        // Garbage is whatever bytes up to the next delimiter: it is discarded (or reported), never merged.
        const parts: Uint8Array[] = leadingZero ? [Uint8Array.of(0)] : [];
        for (const [body, garbage] of items) {
          parts.push(encodeSerialFrame(body));
          if (garbage !== undefined) parts.push(garbage.map((x) => x || 1), Uint8Array.of(0));
        }
        const wire = concat(...parts);
        const d = new SerialFrameDecoder();
        const got: string[] = [];
        for (const chunk of splitAt(wire, cuts)) {
          const r = d.push(chunk);
          if (r.fatal || !r.errors.every((e) => e instanceof SyncwireError)) return false;
          got.push(...r.frames.map(toHex));
        }
        return JSON.stringify(got) === JSON.stringify(items.map(([b]) => toHex(b)));
      },
    ),
    { numRuns: 500 },
  );
  t.pass('500 runs');
});

t.test('property: TCP frames split anywhere decode the same', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 40 }), (bodies, cuts) => {
      const d = new TcpFrameDecoder();
      const got: string[] = [];
      for (const chunk of splitAt(concat(...bodies.map(encodeTcpFrame)), cuts)) got.push(...d.push(chunk).frames.map(toHex));
      return JSON.stringify(got) === JSON.stringify(bodies.map(toHex));
    }),
    { numRuns: 500 },
  );
  t.pass('500 runs');
});

t.test('property: COBS round trip, no zeros, bounded length', async (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 1200 }), fc.array(fc.constantFrom(0, 1, 0xff), { maxLength: 800 }).map((a) => Uint8Array.from(a))), (src) => {
      const enc = cobsEncode(src);
      return !enc.includes(0) && enc.length <= cobsMaxEncodedLength(src.length) && toHex(cobsDecode(enc)) === toHex(src);
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 runs');
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

