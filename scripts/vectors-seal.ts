/**
 * Sealed-link vectors of protocol version 2 (docs/PROTOCOL.md §7.2–§7.4): `docs/vectors/seal.json`.
 * Two version-2 peers A and B (ed25519 seeds 0x01×32, 0x02×32; X25519 secrets 0x11×32, 0x22×32)
 * exchange `Hello`s and `Auth`s; the file gives the key schedule, sealed frames both ways (a
 * `PollRequest`, the close marker, the largest sequence number, a `PollResponse`), rejects, a
 * replay-window script, the small-order X25519 points and the reflected-Hello case. Everything is
 * deterministic. `make vectors` (scripts/gen-vectors.ts) writes it; test/vectors-seal.test.ts
 * recomputes every part with protocol/ alone.
 */
import { Capability, MAX_FRAME_BYTES } from '../protocol/constants.js';
import { PROTOCOL_VERSION_2 } from '../protocol/constants-v2.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { identityFromSecret, fromHex, toHex } from '../protocol/keys.js';
import type { Hello, MessageV2 } from '../protocol/messages-v2.js';
import { authTranscriptV2, deriveSealKeys, ephemeralFromSecret, SEAL_CONTEXT, SealError, x25519, type SealFailure } from '../protocol/seal-keys.js';
import { openFrame, Opener, REPLAY_WINDOW, sealFrame, SEAL_SEQ_MAX } from '../protocol/seal.js';
import { encodeSerialFrame } from '../protocol/serial-frame.js';
import { encodeTcpFrame } from '../protocol/tcp-frame.js';
import { sha256 } from '../protocol/command.js';
import { concat } from '../testkit/bytes.js';
import { toReadable } from '../testkit/vectors.js';

const fill = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);
const seq = (n: number, first: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (first + i) & 0xff);
const hex = toHex;
/** Fixed ids in the sealed messages: a scope id and two command ids (the same patterns as messages-v2.json). */
const S = fill(32, 0x11);
const H1 = fill(32, 0x33);
const H2 = fill(32, 0x44);

/** A small-order X25519 u-coordinate (RFC 7748 §6.1 / the usual blocklist), little-endian. */
function lowOrderPoints(): Array<{ name: string; hex: string }> {
  const p = (1n << 255n) - 19n;
  const le = (n: bigint, high: boolean): string => {
    const b = new Uint8Array(32);
    for (let i = 0; i < 32; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
    if (high) b[31]! |= 0x80;
    return hex(b);
  };
  const points: Array<[string, bigint]> = [
    ['0 (order 4)', 0n],
    ['1 (order 1)', 1n],
    ['p − 1 (order 2)', p - 1n],
    ['p (non-canonical 0)', p],
    ['p + 1 (non-canonical 1)', p + 1n],
    ['order 8 (e0eb7a7c…)', 325606250916557431795983626356110631294008115727848805560023387167927233504n],
    ['order 8 (5f9c95bc…)', 39382357235489614581723060781553021112529911719440698176882885853963445705823n],
  ];
  return points.flatMap(([name, u]) => [
    { name, hex: le(u, false) },
    // X25519 ignores bit 255, so the same point with it set must be refused too.
    { name: `${name}, bit 255 set`, hex: le(u, true) },
  ]);
}

/** The failure `open` gives, or null when it opened. */
function openFailure(key: Uint8Array, body: Uint8Array): SealFailure | null {
  try {
    openFrame(key, body);
    return null;
  } catch (err) {
    if (err instanceof SealError) return err.failure;
    throw err;
  }
}

/** `{ 'seal.json': … }`: the sealed-link vectors of §7.2–§7.4 between version-2 peers A and B. */
export function sealVectors(): Record<string, unknown> {
  return { 'seal.json': sealFile() };
}

function sealFile(): unknown {
  const A = identityFromSecret(fill(32, 0x01));
  const B = identityFromSecret(fill(32, 0x02));
  const caps = Capability.Push | Capability.BareCommand | Capability.Seal;
  const sides = [
    { name: 'A', id: A, eph: ephemeralFromSecret(fill(32, 0x11)), nonce: seq(16, 0x10), max_frame: 4096 },
    { name: 'B', id: B, eph: ephemeralFromSecret(fill(32, 0x22)), nonce: seq(16, 0x20), max_frame: MAX_FRAME_BYTES },
  ].map((s) => {
    const message: Hello = { type: 'Hello', version: PROTOCOL_VERSION_2, public_key: s.id.publicKey, max_frame: s.max_frame, caps, nonce: s.nonce, ephemeral: s.eph.publicKey };
    return { ...s, message, hello: encodeMessageV2(message) };
  });
  const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]];
  const keysA = deriveSealKeys(a.hello, b.hello, a.eph.secret, b.eph.publicKey);
  const keysB = deriveSealKeys(b.hello, a.hello, b.eph.secret, a.eph.publicKey);
  if (hex(keysA.send) !== hex(keysB.receive) || hex(keysA.receive) !== hex(keysB.send)) throw new Error('the two sides derive different keys');
  const key = { a_to_b: keysA.send, b_to_a: keysA.receive };
  const shared = x25519(a.eph.secret, b.eph.publicKey);

  const auth = [
    { signer: a, challenger: b },
    { signer: b, challenger: a },
  ].map(({ signer, challenger }) => {
    const transcript = authTranscriptV2(challenger.hello, signer.hello);
    const signature = signer.id.sign(transcript);
    return { signer: signer.name, challenger: challenger.name, transcript: hex(transcript), signature: hex(signature), auth: hex(encodeMessageV2({ type: 'Auth', signature })) };
  });

  const unsubscribe = encodeMessageV2({ type: 'Unsubscribe', scope: 0 });
  const pollRequest: MessageV2 = { type: 'PollRequest', scope: 0, session: 2, max_bytes: MAX_FRAME_BYTES, heads: [H1], sample: [S], window: 0 };
  const pollResponse: MessageV2 = { type: 'PollResponse', scope: 0, session: 2, more: false, gap: false, total: 5, next_poll_ms: 1500, heads: [H2], items: [] };
  const frameCases: Array<{ name: string; description: string; dir: 'a_to_b' | 'b_to_a'; seq: number; message: MessageV2 | null }> = [
    { name: 'poll_request', description: "A's first sealed frame: a PollRequest for scope number 0 (heads [0x33×32], sample [0x11×32])", dir: 'a_to_b', seq: 0, message: pollRequest },
    { name: 'close_marker', description: 'the sealed close marker: an empty plaintext (A closes the link)', dir: 'a_to_b', seq: 1, message: null },
    { name: 'last_seq', description: 'an Unsubscribe at the largest sequence number, 2^32 − 1', dir: 'a_to_b', seq: SEAL_SEQ_MAX, message: { type: 'Unsubscribe', scope: 0 } },
    { name: 'poll_response', description: "B's first sealed frame: its answer to poll_request", dir: 'b_to_a', seq: 0, message: pollResponse },
  ];
  const frames = frameCases.map((f) => {
    const plaintext = f.message === null ? new Uint8Array(0) : encodeMessageV2(f.message);
    const sealed = sealFrame(key[f.dir], f.seq, plaintext);
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setUint32(8, f.seq);
    return {
      name: f.name,
      description: f.description,
      key: f.dir,
      seq: f.seq,
      message: f.message === null ? null : toReadable(f.message),
      plaintext: hex(plaintext),
      aead_nonce: hex(nonce),
      sealed: hex(sealed),
      serial_frame: hex(encodeSerialFrame(sealed)),
      tcp_frame: hex(encodeTcpFrame(sealed)),
    };
  });

  const base = fromHex(frames[0]!.sealed);
  const close = fromHex(frames[1]!.sealed);
  const altered = (at: number, f: (x: number) => number): Uint8Array => {
    const out = Uint8Array.from(base);
    out[at] = f(out[at]!);
    return out;
  };
  const rejects: Array<{ name: string; key: 'a_to_b' | 'b_to_a'; hex: string; failure: SealFailure }> = [
    { name: 'poll_request with a flipped ciphertext bit (byte 5, bit 0)', key: 'a_to_b', hex: hex(altered(5, (x) => x ^ 0x01)), failure: 'bad-tag' },
    { name: 'poll_request with a flipped tag bit (last byte, bit 7)', key: 'a_to_b', hex: hex(altered(base.length - 1, (x) => x ^ 0x80)), failure: 'bad-tag' },
    { name: 'poll_request with its last tag byte cut off', key: 'a_to_b', hex: hex(base.subarray(0, base.length - 1)), failure: 'bad-tag' },
    { name: 'poll_request opened with the B→A key (as if reflected to its sender)', key: 'b_to_a', hex: hex(base), failure: 'bad-tag' },
    { name: 'poll_request with its header seq changed from 0 to 1', key: 'a_to_b', hex: hex(altered(4, () => 0x01)), failure: 'bad-tag' },
    { name: 'poll_request with marker 0x52 instead of 0x53', key: 'a_to_b', hex: hex(altered(0, () => 0x52)), failure: 'not-sealed' },
    { name: 'close_marker with its last byte cut off (20 bytes: shorter than header and tag)', key: 'a_to_b', hex: hex(close.subarray(0, close.length - 1)), failure: 'not-sealed' },
    { name: 'the marker alone', key: 'a_to_b', hex: '53', failure: 'not-sealed' },
  ];
  for (const r of rejects) if (openFailure(key[r.key], fromHex(r.hex)) !== r.failure) throw new Error(`seal reject "${r.name}" does not fail with ${r.failure}`);

  // The replay window (§7.4) on a fresh receiver of A→B frames, each carrying an Unsubscribe.
  type Expect = 'accept' | 'drop' | 'bad-tag';
  const script: Array<[number, Expect, string]> = [
    [0, 'accept', 'first frame'],
    [1, 'accept', 'next'],
    [1, 'drop', 'replay'],
    [0, 'drop', 'replay'],
    [5, 'accept', 'a gap: 2..4 may still come'],
    [3, 'accept', 'late but in the window'],
    [3, 'drop', 'replay'],
    [1000, 'bad-tag', 'forged (sealed under another key): must not move the window'],
    [4, 'accept', 'still in the window: the forgery did not move it'],
    [100, 'accept', 'a jump forward'],
    [37, 'accept', '63 below the highest: the oldest the window holds'],
    [36, 'drop', '64 below the highest: too old'],
    [37, 'drop', 'replay'],
    [164, 'accept', 'the window slides: 100 is now 64 below'],
    [101, 'accept', '63 below'],
    [100, 'drop', 'accepted before, now too old'],
    [SEAL_SEQ_MAX, 'accept', 'the largest sequence number'],
    [SEAL_SEQ_MAX - 63, 'accept', '63 below it'],
    [SEAL_SEQ_MAX - 64, 'drop', 'too old'],
    [SEAL_SEQ_MAX, 'drop', 'replay'],
  ];
  const opener = new Opener(key.a_to_b);
  const steps = script.map(([s, expect, why]) => {
    const body = sealFrame(expect === 'bad-tag' ? key.b_to_a : key.a_to_b, s, unsubscribe);
    let got: Expect;
    try {
      got = opener.open(body) === null ? 'drop' : 'accept';
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      got = 'bad-tag';
    }
    if (got !== expect) throw new Error(`replay step seq ${s}: expected ${expect}, the Opener says ${got}`);
    return { seq: s, body: hex(body), expect, why };
  });

  const weak = lowOrderPoints();
  const order8 = weak.find((w) => w.name.startsWith('order 8'))!;
  const weakHello = encodeMessageV2({ ...b.message, ephemeral: fromHex(order8.hex) });
  for (const w of weak) {
    try {
      deriveSealKeys(a.hello, weakHello, a.eph.secret, fromHex(w.hex));
      throw new Error(`low-order point ${w.name} was not refused`);
    } catch (err) {
      if (!(err instanceof SealError) || err.failure !== 'weak-key') throw err;
    }
  }

  return {
    description:
      'Sealed links (docs/PROTOCOL.md §7.2–§7.4), all from fixed inputs. sides: identity (ed25519 seed 01×32 for A, 02×32 for B), X25519 ephemeral secret and public key, Hello (cbor hex, caps Push|BareCommand|Seal, field 6 = ephemeral) and its SHA-256. ' +
      'auth: transcript = "syncwire-auth-v2" ‖ SHA-256(challenger Hello) ‖ SHA-256(signer Hello), signature = ed25519 by the signer over it, auth = the Auth body. ' +
      'keys: shared_secret = X25519(own secret, peer ephemeral); transcript_hash = SHA-256("syncwire-seal-v1" ‖ min(h_A, h_B) ‖ max(h_A, h_B)); ' +
      'a_to_b / b_to_a = HKDF-SHA256(ikm = shared_secret, salt = transcript_hash, info = "syncwire-seal-v1" ‖ SHA-256(sender Hello), 32 bytes). ' +
      'frames: sealed = 53 ‖ seq (u32 BE) ‖ ChaCha20-Poly1305(key, aead_nonce = 8 zero bytes ‖ seq BE, aad = the 5 header bytes, plaintext) ‖ 16-byte tag; serial_frame and tcp_frame: the sealed body framed for serial (§2.1) and TCP (§2.2). ' +
      'rejects: open with key must throw failure. replay: a fresh receiver opens the steps in order with key; accept = plaintext, drop = replay or too old (null), bad-tag = throws. ' +
      'weak_keys: X25519 with any of keys must be refused (weak-key). reflected: deriving keys with own = peer Hello must be refused.',
    sides: sides.map((s) => ({
      name: s.name,
      identity_seed: hex(s.id.secretKey),
      public_key: hex(s.id.publicKey),
      ephemeral_secret: hex(s.eph.secret),
      ephemeral_public: hex(s.eph.publicKey),
      message: toReadable(s.message),
      hello: hex(s.hello),
      hello_sha256: hex(sha256(s.hello)),
    })),
    auth,
    keys: {
      shared_secret: hex(shared),
      transcript_hash: hex(keysA.transcriptHash),
      hkdf_info_a_to_b: hex(concat(SEAL_CONTEXT, sha256(a.hello))),
      hkdf_info_b_to_a: hex(concat(SEAL_CONTEXT, sha256(b.hello))),
      a_to_b: hex(key.a_to_b),
      b_to_a: hex(key.b_to_a),
    },
    frames,
    rejects,
    replay: { key: 'a_to_b', window: REPLAY_WINDOW, plaintext: hex(unsubscribe), steps },
    weak_keys: {
      description: "small-order X25519 public keys; A's deriveSealKeys with B's Hello carrying one (weak_hello carries the first order-8 point) must fail weak-key",
      own_secret: hex(a.eph.secret),
      weak_hello: hex(weakHello),
      keys: weak,
      failure: 'weak-key',
    },
    reflected: { description: "A receives its own Hello back: deriveSealKeys(own = peer = A's Hello) must fail", own_hello: hex(a.hello), peer_hello: hex(a.hello), failure: 'reflected' },
  };
}

