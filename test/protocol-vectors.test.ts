/**
 * The message, command and frame vectors of docs/vectors/ (PROTOCOL.md §13) both ways: decoding
 * the bytes gives the stated value, encoding the value gives the same bytes, and every reject
 * fails with its stated reason. (The ARQ, budget and seal vectors: test/vectors.test.ts.)
 */
import { crc32 } from '../protocol/crc32.js';
import t from 'tap';
import {
  authTranscript,
  cobsEncode,
  decodeCommand,
  decodeMessage,
  encodeBarePush,
  encodeCommand,
  encodeMessage,
  encodeSerialFrame,
  encodeTcpFrame,
  fingerprint,
  fromHex,
  identityFromSecret,
  MessageType,
  SerialFrameDecoder,
  sha256,
  signedBytesOf,
  signingBytes,
  TcpFrameDecoder,
  toHex,
  verifySignature,
  type Message,
} from '../protocol/index.js';
import { fromReadable, loadVectors, reasonOf, toReadable, type Readable } from '../testkit/vectors.js';
import { concat } from '../testkit/bytes.js';

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
