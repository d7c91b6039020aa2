/**
 * The vectors added for the serial link layer and for budgets (docs/PROTOCOL.md §13), both ways:
 * ARQ frames parse to their fields and their fields encode to the same bytes; the worked ARQ
 * exchange replays on fresh endpoints with identical outputs and deliveries; the trimmed
 * `PollResponse` and the exhausting `Push` are what the agent's responder and push planner still
 * produce from the stated inputs; every part of `seal.json` recomputes from its seeds (Hellos,
 * transcripts, keys, sealed frames) and its rejects, replay script, weak keys and reflected Hello
 * fail as stated. (Every `messages.json` case is also checked both ways by test/protocol-vectors.test.ts.)
 */
import t from 'tap';
import { decodeCommand } from '../protocol/command.js';
import { decodeMessage, encodeMessage } from '../protocol/envelope.js';
import { fromHex, toHex } from '../protocol/keys.js';
import type { Message } from '../protocol/messages.js';
import { isArqFrame } from '../protocol/serial-arq.js';
import { SerialFrameDecoder, encodeSerialFrame } from '../protocol/serial-frame.js';
import { TcpFrameDecoder } from '../protocol/tcp-frame.js';
import { Capability } from '../protocol/constants.js';
import { identityFromSecret, verifySignature } from '../protocol/keys.js';
import { sha256 } from '../protocol/command.js';
import {
  authTranscriptV2, deriveSealKeys, ephemeralFromSecret, openFrame, Opener, REPLAY_WINDOW, SEAL_CONTEXT, SealError, sealedSeq, sealFrame, x25519, type SealFailure,
} from '../protocol/seal.js';
import { ARQ_EXCHANGE_OPTIONS, readArqFrame, scriptedEndpoint, writeArqFrame, type ArqFrameFields, type ArqStep } from '../scripts/arq-vectors.js';
import { EXHAUSTING_PUSH, exhaustingPush, TRIMMED_POLL, trimmedPoll } from '../scripts/budget-vectors.js';
import { toReadable, type Readable } from '../scripts/gen-vectors.js';
import { loadVectors as load } from '../testkit/vectors.js';


interface ArqFile {
  frames: Array<{ name: string; body: string; serial_frame: string; fields: ArqFrameFields }>;
  exchange: { options: typeof ARQ_EXCHANGE_OPTIONS; steps: ArqStep[] };
}
interface MessageCase {
  name: string;
  message: Readable;
  cbor: string;
  [extra: string]: unknown;
}
const arq = load<ArqFile>('arq.json');
const messages = load<{ cases: MessageCase[] }>('messages.json');
const commands = load<{ cases: Array<{ name: string; encoding: string }> }>('commands.json');

t.test('ARQ frame vectors: bytes → fields and fields → bytes', async (t) => {
  const kinds = new Set<string>();
  for (const f of arq.frames) {
    const body = fromHex(f.body);
    t.ok(isArqFrame(body), `${f.name}: an ARQ frame, not a message`);
    t.same(readArqFrame(body), f.fields, `${f.name}: decode`);
    t.equal(toHex(writeArqFrame(f.fields)), f.body, `${f.name}: encode`);
    t.equal(toHex(encodeSerialFrame(body)), f.serial_frame, `${f.name}: serial frame`);
    t.same(new SerialFrameDecoder().push(fromHex(f.serial_frame)).frames.map(toHex), [f.body], `${f.name}: serial decode`);
    kinds.add(f.fields.kind);
  }
  t.same([...kinds].sort(), ['ACK', 'DATA', 'FRAG', 'RST'], 'one vector per frame kind at least');
  const sack = arq.frames.find((f) => f.fields.kind === 'ACK' && f.fields.sack !== 0);
  t.ok(sack, 'an ACK with SACK bits');
});

t.test('ARQ worked exchange replays byte for byte on fresh endpoints', async (t) => {
  const { options, steps } = arq.exchange;
  t.same(options, ARQ_EXCHANGE_OPTIONS, 'endpoint options as documented');
  const ends = { S: scriptedEndpoint(options.S), R: scriptedEndpoint(options.R) };
  const seen = new Set<string>();
  let delivered = 0;
  for (const [i, s] of steps.entries()) {
    const what = `step ${i} (${s.side} ${s.call} at ${s.at})`;
    switch (s.call) {
      case 'send':
        ends[s.side].send(fromHex(s.message));
        break;
      case 'reset':
        ends[s.side].reset();
        break;
      case 'poll': {
        const out = ends[s.side].poll(s.at);
        t.same(out.map(toHex), s.out.map((o) => o.body), `${what}: frames sent`);
        for (const o of s.out) {
          t.same(readArqFrame(fromHex(o.body)), o.fields, `${what}: fields`);
          seen.add(o.fields.kind);
        }
        break;
      }
      case 'receive': {
        const got = ends[s.side].receive(fromHex(s.body), s.at);
        t.same(got.map(toHex), s.delivered, `${what}: delivered`);
        for (const m of got) t.doesNotThrow(() => decodeMessage(m), `${what}: delivers a valid message`);
        delivered += got.length;
        break;
      }
    }
  }
  t.same([...seen].sort(), ['ACK', 'DATA', 'FRAG', 'RST'], 'the exchange shows every frame kind');
  t.equal(delivered, 3, 'three messages delivered, each once');
  t.ok(steps.some((s) => s.call === 'poll' && s.out.some((o) => o.lost)), 'a chunk is lost on the line');
  t.equal(ends.S.queuedBytes, 0, 'nothing left unacknowledged');
});

const graph = commands.cases.map((c) => decodeCommand(fromHex(c.encoding)));
const caseOf = (name: string): MessageCase => {
  const c = messages.cases.find((k) => k.name === name);
  if (c === undefined) throw new Error(`messages.json has no case ${name}`);
  return c;
};

t.test('trimmed PollResponse: the agent still answers exactly the vector', async (t) => {
  const c = caseOf('poll_response_trimmed');
  const { request, response } = trimmedPoll(graph);
  t.same(toReadable(request), c.answers, 'the request it answers');
  t.same(toReadable(response), c.message, 'the responder gives this answer');
  t.equal(toHex(encodeMessage(response)), c.cbor, 'encodes to the vector bytes');
  t.same(toReadable(decodeMessage(fromHex(c.cbor))), c.message, 'decodes to the vector value');
  const bytes = fromHex(c.cbor).length;
  t.ok(bytes <= TRIMMED_POLL.max_bytes, `within max_bytes (${bytes} ≤ ${TRIMMED_POLL.max_bytes})`);
  const r = response as Extract<Message, { type: 'PollResponse' }>;
  t.ok(r.more && r.commands.length > 0 && r.commands.length < graph.length, 'a proper prefix, more = true');
  // The next command would not have fitted: adding it breaks the budget.
  const next = graph[r.commands.length]!.bytes;
  const bigger = encodeMessage({ ...r, commands: [...r.commands, next] }).length;
  t.ok(bigger > TRIMMED_POLL.max_bytes, `the next command does not fit (${bigger} > ${TRIMMED_POLL.max_bytes})`);
});

t.test('exhausting Push: the agent still pushes exactly the vector', async (t) => {
  const c = caseOf('push_exhausting');
  const r = exhaustingPush(graph);
  t.equal(r.pushes.length, 1, 'one push');
  t.ok(r.exhausted, 'the subscription is exhausted');
  t.same(toReadable(r.pushes[0]), c.message, 'the planner gives this push');
  t.equal(toHex(encodeMessage(r.pushes[0]!)), c.cbor, 'encodes to the vector bytes');
  t.same(toReadable(decodeMessage(fromHex(c.cbor))), c.message, 'decodes to the vector value');
  t.equal(r.budget_after, c.budget_after, 'budget left after it');
  t.equal(c.budget_before, EXHAUSTING_PUSH.budget);
  const size = fromHex(c.cbor).length;
  t.equal(EXHAUSTING_PUSH.budget - size, r.budget_after, 'the budget fell by the push’s encoded length');
  const p = r.pushes[0]!;
  t.ok(p.remaining !== null && p.remaining <= r.budget_after && p.remaining >= r.budget_after - 4, `remaining ${p.remaining} is at most the truth (${r.budget_after}) and at most 4 below it`);
});

t.test('serial receive buffer bound (PROTOCOL.md §2.1 rule 4): B = n + ⌊n / 254⌋ + 1 with n = M + 4', async (t) => {
  const M = 65536;
  const n = M + 4;
  const B = n + Math.floor(n / 254) + 1;
  t.equal(B, 65799, 'the figure the spec states');
  // A body of M non-zero bytes whose CRC has no zero byte either is the worst case: exactly B.
  let body = new Uint8Array(M);
  for (let salt = 0; ; salt++) {
    body = Uint8Array.from({ length: M }, (_, i) => ((i + salt) % 255) + 1);
    const frame = encodeSerialFrame(body);
    if (frame.length - 1 === B) break;
    if (salt > 300) throw new Error('no zero-free CRC found');
  }
  const ok = new SerialFrameDecoder(M).push(encodeSerialFrame(body));
  t.same([ok.frames.length, ok.errors.length], [1, 0], 'a candidate of exactly B bytes is accepted');
  const over = new SerialFrameDecoder(M).push(new Uint8Array(B + 1).fill(0x01));
  t.same(over.errors, [], 'nothing reported before the delimiter');
  const end = new SerialFrameDecoder(M);
  end.push(new Uint8Array(B + 1).fill(0x01));
  const r = end.push(Uint8Array.of(0x00));
  t.same(r.errors.map((e) => e.reason), ['TooLarge'], 'a candidate of B + 1 bytes is discarded as TooLarge');
});

// ---- seal.json (PROTOCOL.md §7.2–§7.4), recomputed from its seeds with protocol/ only ----------

interface SealSide { name: string; identity_seed: string; public_key: string; ephemeral_secret: string; ephemeral_public: string; message: Readable; hello: string; hello_sha256: string }
interface SealFile {
  sides: SealSide[];
  auth: Array<{ signer: string; challenger: string; transcript: string; signature: string; auth: string }>;
  keys: { shared_secret: string; transcript_hash: string; hkdf_info_a_to_b: string; hkdf_info_b_to_a: string; a_to_b: string; b_to_a: string };
  frames: Array<{ name: string; key: 'a_to_b' | 'b_to_a'; seq: number; message: Readable; plaintext: string; aead_nonce: string; sealed: string; serial_frame: string; tcp_frame: string }>;
  rejects: Array<{ name: string; key: 'a_to_b' | 'b_to_a'; hex: string; failure: SealFailure }>;
  replay: { key: 'a_to_b' | 'b_to_a'; window: number; plaintext: string; steps: Array<{ seq: number; body: string; expect: 'accept' | 'drop' | 'bad-tag'; why: string }> };
  weak_keys: { own_secret: string; weak_hello: string; keys: Array<{ name: string; hex: string }>; failure: SealFailure };
  reflected: { own_hello: string; peer_hello: string; failure: SealFailure };
}
const seal = load<SealFile>('seal.json');
const sealFailure = (f: () => unknown): string => {
  try {
    f();
    return 'opened';
  } catch (err) {
    return err instanceof SealError ? err.failure : String(err);
  }
};
const side = (name: string): SealSide => seal.sides.find((s) => s.name === name)!;

t.test('seal.json: identities, ephemerals and Hellos', async (t) => {
  t.same(seal.sides.map((s) => s.name), ['A', 'B']);
  for (const s of seal.sides) {
    t.equal(toHex(identityFromSecret(fromHex(s.identity_seed)).publicKey), s.public_key, `${s.name}: ed25519 key of its seed`);
    t.equal(toHex(ephemeralFromSecret(fromHex(s.ephemeral_secret)).publicKey), s.ephemeral_public, `${s.name}: X25519 public key of its secret`);
    const hello = decodeMessage(fromHex(s.hello));
    t.same(toReadable(hello), s.message, `${s.name}: Hello decodes to the readable form`);
    t.equal(toHex(encodeMessage(hello)), s.hello, `${s.name}: and encodes to the same bytes`);
    t.ok(hello.type === 'Hello' && hello.caps === (Capability.Push | Capability.BareCommand | Capability.Seal), `${s.name}: caps Push|BareCommand|Seal`);
    t.ok(hello.type === 'Hello' && hello.ephemeral !== undefined && toHex(hello.ephemeral) === s.ephemeral_public, `${s.name}: field 6 is its ephemeral key`);
    t.equal(toHex(sha256(fromHex(s.hello))), s.hello_sha256, `${s.name}: Hello hash`);
  }
});

t.test('seal.json: v2 auth transcripts and Auth messages', async (t) => {
  t.equal(seal.auth.length, 2);
  for (const a of seal.auth) {
    const signer = side(a.signer);
    const challenger = side(a.challenger);
    const transcript = authTranscriptV2(fromHex(challenger.hello), fromHex(signer.hello));
    t.equal(toHex(transcript), a.transcript, `${a.signer} for ${a.challenger}: transcript`);
    t.equal(toHex(identityFromSecret(fromHex(signer.identity_seed)).sign(transcript)), a.signature, 'deterministic signature');
    t.ok(verifySignature(fromHex(signer.public_key), transcript, fromHex(a.signature)), 'verifies under the signer key');
    t.notOk(verifySignature(fromHex(signer.public_key), authTranscriptV2(fromHex(signer.hello), fromHex(challenger.hello)), fromHex(a.signature)), 'not with the Hellos swapped');
    const auth = decodeMessage(fromHex(a.auth));
    t.ok(auth.type === 'Auth' && toHex(auth.signature) === a.signature, 'Auth body carries it');
    t.equal(toHex(encodeMessage({ type: 'Auth', signature: fromHex(a.signature) })), a.auth, 'Auth encodes to the vector');
  }
});

t.test('seal.json: shared secret, transcript hash and direction keys from both sides', async (t) => {
  const [A, B] = [side('A'), side('B')];
  const k = seal.keys;
  t.equal(toHex(x25519(fromHex(A.ephemeral_secret), fromHex(B.ephemeral_public))), k.shared_secret, 'X25519 by A');
  t.equal(toHex(x25519(fromHex(B.ephemeral_secret), fromHex(A.ephemeral_public))), k.shared_secret, 'X25519 by B');
  const ka = deriveSealKeys(fromHex(A.hello), fromHex(B.hello), fromHex(A.ephemeral_secret), fromHex(B.ephemeral_public));
  const kb = deriveSealKeys(fromHex(B.hello), fromHex(A.hello), fromHex(B.ephemeral_secret), fromHex(A.ephemeral_public));
  t.same([toHex(ka.transcriptHash), toHex(kb.transcriptHash)], [k.transcript_hash, k.transcript_hash], 'transcript hash, both sides');
  t.same([toHex(ka.send), toHex(kb.receive)], [k.a_to_b, k.a_to_b], 'A→B: A sends, B receives');
  t.same([toHex(kb.send), toHex(ka.receive)], [k.b_to_a, k.b_to_a], 'B→A: B sends, A receives');
  t.equal(k.hkdf_info_a_to_b, toHex(SEAL_CONTEXT) + A.hello_sha256, 'HKDF info A→B');
  t.equal(k.hkdf_info_b_to_a, toHex(SEAL_CONTEXT) + B.hello_sha256, 'HKDF info B→A');
});

t.test('seal.json: sealed frames both ways, rejects, replay script, weak keys, reflection', async (t) => {
  const key = { a_to_b: fromHex(seal.keys.a_to_b), b_to_a: fromHex(seal.keys.b_to_a) };
  t.same(seal.frames.map((f) => [f.key, f.seq]), [['a_to_b', 0], ['a_to_b', 1], ['a_to_b', 0xffffffff], ['b_to_a', 0]], 'the frames the spec lists');
  for (const f of seal.frames) {
    const plaintext = fromHex(f.plaintext);
    t.equal(toHex(sealFrame(key[f.key], f.seq, plaintext)), f.sealed, `${f.name}: seals to the vector`);
    t.equal(f.aead_nonce, '0000000000000000' + f.seq.toString(16).padStart(8, '0'), `${f.name}: nonce`);
    const opened = openFrame(key[f.key], fromHex(f.sealed));
    t.same([opened.seq, toHex(opened.plaintext)], [f.seq, f.plaintext], `${f.name}: opens`);
    t.same(f.message === null ? null : toReadable(decodeMessage(plaintext)), f.message, `${f.name}: plaintext is the message (none: the close marker)`);
    t.equal(toHex(encodeSerialFrame(fromHex(f.sealed))), f.serial_frame, `${f.name}: serial frame`);
    t.same(new SerialFrameDecoder().push(fromHex(f.serial_frame)).frames.map(toHex), [f.sealed], `${f.name}: serial decode`);
    t.same(new TcpFrameDecoder().push(fromHex(f.tcp_frame)).frames.map(toHex), [f.sealed], `${f.name}: TCP decode`);
  }
  t.ok(seal.frames.some((f) => f.message === null && f.plaintext === ''), 'the close marker is an empty plaintext');
  for (const r of seal.rejects) {
    t.equal(sealFailure(() => openFrame(key[r.key], fromHex(r.hex))), r.failure, `reject ${r.name}`);
    t.equal(sealFailure(() => new Opener(key[r.key]).open(fromHex(r.hex))), r.failure, `reject ${r.name} (Opener)`);
  }
  const opener = new Opener(key[seal.replay.key]);
  t.equal(seal.replay.window, REPLAY_WINDOW);
  for (const [i, s] of seal.replay.steps.entries()) {
    const body = fromHex(s.body);
    t.equal(sealedSeq(body), s.seq, `step ${i}: header seq`);
    if (s.expect !== 'bad-tag') t.equal(s.body, toHex(sealFrame(key[seal.replay.key], s.seq, fromHex(seal.replay.plaintext))), `step ${i}: genuine frame`);
    const got = sealFailure(() => {
      if (opener.open(body) === null) throw new Error('drop');
    });
    t.equal(got === 'opened' ? 'accept' : got === 'Error: drop' ? 'drop' : got, s.expect, `step ${i} seq ${s.seq}: ${s.why}`);
  }
  const secret = fromHex(seal.weak_keys.own_secret);
  t.ok(seal.weak_keys.keys.length >= 14, 'every small-order point, with and without bit 255');
  for (const w of seal.weak_keys.keys) t.equal(sealFailure(() => x25519(secret, fromHex(w.hex))), seal.weak_keys.failure, `weak key ${w.name}`);
  const weakHello = decodeMessage(fromHex(seal.weak_keys.weak_hello));
  t.ok(weakHello.type === 'Hello' && weakHello.ephemeral !== undefined && seal.weak_keys.keys.some((w) => w.hex === toHex(weakHello.ephemeral!)), 'weak_hello carries a listed key');
  if (weakHello.type === 'Hello') t.equal(sealFailure(() => deriveSealKeys(fromHex(side('A').hello), fromHex(seal.weak_keys.weak_hello), secret, weakHello.ephemeral!)), 'weak-key', 'A refuses it');
  t.equal(seal.reflected.own_hello, seal.reflected.peer_hello);
  t.equal(sealFailure(() => deriveSealKeys(fromHex(seal.reflected.own_hello), fromHex(seal.reflected.peer_hello), fromHex(side('A').ephemeral_secret), fromHex(side('A').ephemeral_public))), seal.reflected.failure, 'reflected Hello');
});
