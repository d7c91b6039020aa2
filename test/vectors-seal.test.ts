/**
 * docs/vectors/seal.json (scripts/vectors-seal.ts, docs/PROTOCOL.md §7.2–§7.4) recomputed from its
 * seeds with protocol/ alone: the version-2 Hellos, auth transcripts and Auth messages, the shared
 * secret, transcript hash and direction keys from both sides, the sealed frames both ways (their
 * plaintexts decode as version-2 messages), and the rejects, replay script, weak keys and
 * reflected Hello fail as stated; and the file is what the generator writes now.
 */
import { Decoder } from 'cbor-x';
import t from 'tap';
import { decodeCbor } from '../protocol/cbor.js';
import { sha256 } from '../protocol/command.js';
import { Capability } from '../protocol/constants.js';
import { PROTOCOL_VERSION_2 } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { fromHex, identityFromSecret, toHex, verifySignature } from '../protocol/keys.js';
import {
  authTranscriptV2, deriveSealKeys, ephemeralFromSecret, openFrame, Opener, REPLAY_WINDOW, SEAL_CONTEXT, SealError, sealedSeq, sealFrame, x25519, type SealFailure,
} from '../protocol/seal.js';
import { SerialFrameDecoder, encodeSerialFrame } from '../protocol/serial-frame.js';
import { TcpFrameDecoder } from '../protocol/tcp-frame.js';
import { sealVectors } from '../scripts/vectors-seal.js';
import { loadVectors as load, toReadable, type Readable } from '../testkit/vectors.js';

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
    const hello = decodeMessageV2(fromHex(s.hello));
    t.same(toReadable(hello), s.message, `${s.name}: Hello decodes to the readable form`);
    t.equal(toHex(encodeMessageV2(hello)), s.hello, `${s.name}: and encodes to the same bytes`);
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
    const auth = decodeMessageV2(fromHex(a.auth));
    t.ok(auth.type === 'Auth' && toHex(auth.signature) === a.signature, 'Auth body carries it');
    t.equal(toHex(encodeMessageV2({ type: 'Auth', signature: fromHex(a.signature) })), a.auth, 'Auth encodes to the vector');
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
    t.same(f.message === null ? null : toReadable(decodeMessageV2(plaintext)), f.message, `${f.name}: plaintext is the message (none: the close marker)`);
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
  const weakHello = decodeMessageV2(fromHex(seal.weak_keys.weak_hello));
  t.ok(weakHello.type === 'Hello' && weakHello.ephemeral !== undefined && seal.weak_keys.keys.some((w) => w.hex === toHex(weakHello.ephemeral!)), 'weak_hello carries a listed key');
  if (weakHello.type === 'Hello') t.equal(sealFailure(() => deriveSealKeys(fromHex(side('A').hello), fromHex(seal.weak_keys.weak_hello), secret, weakHello.ephemeral!)), 'weak-key', 'A refuses it');
  t.equal(seal.reflected.own_hello, seal.reflected.peer_hello);
  t.equal(sealFailure(() => deriveSealKeys(fromHex(seal.reflected.own_hello), fromHex(seal.reflected.peer_hello), fromHex(side('A').ephemeral_secret), fromHex(side('A').ephemeral_public))), seal.reflected.failure, 'reflected Hello');
});

t.test('seal.json: both Hellos speak version 2, and the file is what the generator writes now', async (t) => {
  for (const s of seal.sides) {
    const hello = decodeMessageV2(fromHex(s.hello));
    t.ok(hello.type === 'Hello' && hello.version === PROTOCOL_VERSION_2, `${s.name}: Hello version 2`);
  }
  t.same(JSON.parse(JSON.stringify(sealVectors()['seal.json'])), seal, 'regenerated seal.json is identical (run make vectors after a change)');
});

const cborx = new Decoder({ useRecords: false, mapsAsObjects: false, copyBuffers: true });

t.test('seal.json: cbor-x reads the Hellos, Auths and sealed plaintexts as protocol/ does', async (t) => {
  const same = (hex: string, what: string): void => void t.same(toReadable(cborx.decode(fromHex(hex)) as unknown), toReadable(decodeCbor(fromHex(hex))), what);
  for (const s of seal.sides) {
    same(s.hello, `Hello ${s.name}`);
    const arr = cborx.decode(fromHex(s.hello)) as unknown[];
    t.equal(arr.length, 7, `Hello ${s.name}: type and six fields`);
    t.equal(Buffer.from(arr[6] as Uint8Array).toString('hex'), s.ephemeral_public, `Hello ${s.name}: cbor-x reads field 6 as the ephemeral key`);
  }
  same(seal.weak_keys.weak_hello, 'weak_hello');
  for (const a of seal.auth) same(a.auth, `Auth by ${a.signer}`);
  for (const f of seal.frames) if (f.plaintext !== '') same(f.plaintext, `frame ${f.name} plaintext`);
});
