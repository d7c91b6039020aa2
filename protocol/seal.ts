/**
 * Sealed links (PROTOCOL.md §7.2–§7.4): the handshake transcript, the key schedule and the sealed
 * frame. Pure: keys and bytes in, bytes out; randomness comes from the caller (an ephemeral key
 * is made from a 32-byte seed), so firmware with its own crypto library can match it byte for
 * byte against `docs/vectors/seal.json`.
 *
 * - X25519 ephemeral keys, one pair per `Hello` (forward secrecy: a stolen identity key does not
 *   open recorded traffic).
 * - `authTranscriptV2` binds both `Hello`s byte for byte (static keys, ephemeral keys, nonces,
 *   caps — so stripping the `Seal` bit breaks the signature).
 * - HKDF-SHA256 derives one key per direction; ChaCha20-Poly1305 seals each frame body under a
 *   64-bit counter nonce carried as a 32-bit sequence number in the header.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';
import { compareBytes, sha256 } from './command.js';
import { equalBytes } from './bytes.js';
import { EPHEMERAL_KEY_BYTES } from './constants.js';
import { SyncwireError } from './errors.js';

/** First byte of every sealed frame body (no CBOR message starts with it, no ARQ frame either). */
export const SEAL_MARKER = 0x53;
/** Marker plus the 4-byte big-endian sequence number. */
export const SEAL_HEADER_BYTES = 5;
/** Poly1305 tag length. */
export const SEAL_TAG_BYTES = 16;
/** Bytes a sealed frame adds to its plaintext: header and tag. */
export const SEAL_OVERHEAD = SEAL_HEADER_BYTES + SEAL_TAG_BYTES;
/** Sequence numbers a receiver accepts below the highest it has opened (the replay window). */
export const REPLAY_WINDOW = 64;
/** Largest sequence number a sender may use; it must re-handshake before getting there. */
export const SEAL_SEQ_MAX = 0xffffffff;
/** A sender starts a fresh handshake once its next sequence number reaches this (2^31). */
export const SEAL_REKEY_AT = 0x80000000;

const enc = new TextEncoder();
/** Domain-separation prefix of the v2 link-authentication transcript (16 ASCII bytes). */
export const AUTH_V2_CONTEXT = enc.encode('syncwire-auth-v2');
/** Domain-separation prefix of the transcript hash and of the HKDF info (16 ASCII bytes). */
export const SEAL_CONTEXT = enc.encode('syncwire-seal-v1');

// DER prefix wrapping a raw 32-byte X25519 secret as PKCS#8 (the fallback import, see below).
const X25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const b64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
// Node reads a private OKP JWK from `d` alone but wants an `x` string beside it.
const PLACEHOLDER_X = b64url(new Uint8Array(32));

/** False once this Node refused a private OKP JWK with a placeholder `x` (Node 26 checks it). */
let jwkImport = true;
/** Secrets already imported (by array identity): a handshake uses its secret twice. */
const imported = new WeakMap<Uint8Array, KeyObject>();

/**
 * A KeyObject for a raw X25519 secret. JWK first: with the OpenSSL of Node 20–24 the PKCS#8
 * decoder costs ~30× the JWK import (measured 3.7 ms against ~0.1 ms per key on Node 20, most of
 * a handshake); Node 26 checks `x` against `d`, and its PKCS#8 import is fast (0.4 ms).
 */
function privateKeyOf(secret: Uint8Array): KeyObject {
  const known = imported.get(secret);
  if (known !== undefined) return known;
  let key: KeyObject | undefined;
  if (jwkImport) {
    try {
      key = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(secret), x: PLACEHOLDER_X }, format: 'jwk' });
    } catch {
      jwkImport = false;
    }
  }
  key ??= createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
  imported.set(secret, key);
  return key;
}

/**
 * Per-link sealing policy (§7.2): `require` refuses a peer that does not seal; `prefer` seals when
 * the peer offers it and otherwise runs unsealed with a peer of this revision; `off` never seals.
 */
export type SealPolicy = 'require' | 'prefer' | 'off';

/** Every {@link SealPolicy}, for parsers and help texts. */
export const SEAL_POLICIES: readonly SealPolicy[] = ['require', 'prefer', 'off'];

/** Why sealing or opening failed. */
export type SealFailure =
  /** Not a sealed frame: wrong marker or shorter than header and tag. */
  | 'not-sealed'
  /** The tag did not verify: wrong key, forged, truncated or altered bytes. */
  | 'bad-tag'
  /** The ephemeral key exchange gave the all-zero secret (a low-order peer key). */
  | 'weak-key'
  /** Both `Hello`s hash the same: a reflected `Hello`, which would give both directions one key. */
  | 'reflected'
  /** The sequence number space is used up. */
  | 'exhausted';

/** A sealing failure; the wire reason is `Unauthorized` (it is never answered for frames). */
export class SealError extends SyncwireError {
  constructor(
    readonly failure: SealFailure,
    message: string,
  ) {
    super('Unauthorized', message);
    this.name = 'SealError';
  }
}

/** An X25519 key pair for one handshake. */
export interface EphemeralKey {
  /** Raw 32-byte secret (the seed as given). */
  readonly secret: Uint8Array;
  /** Raw 32-byte public key, sent in `Hello.ephemeral`. */
  readonly publicKey: Uint8Array;
}

/** The X25519 key pair of a 32-byte secret (callers draw it from a CSPRNG, one per `Hello`). */
export function ephemeralFromSecret(secret: Uint8Array): EphemeralKey {
  if (secret.length !== EPHEMERAL_KEY_BYTES) throw new RangeError('X25519 secret must be 32 bytes');
  const priv = privateKeyOf(secret);
  const x = createPublicKey(priv).export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new SealError('weak-key', 'X25519 public key export failed');
  const copy = Uint8Array.from(secret);
  imported.set(copy, priv);
  return { secret: copy, publicKey: new Uint8Array(Buffer.from(x, 'base64url')) };
}

/**
 * X25519(secret, peerPublic).
 * @throws SealError `weak-key` when the result is all zero (RFC 7748 §6.1) or the peer key is unusable.
 */
export function x25519(secret: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  // Checked here, not left to the key parser: OpenSSL ignores bytes after a DER key, so a 33-byte
  // key (or secret) would silently be used as its first 32 bytes.
  if (secret.length !== EPHEMERAL_KEY_BYTES) throw new RangeError('X25519 secret must be 32 bytes');
  if (peerPublic.length !== EPHEMERAL_KEY_BYTES) throw new SealError('weak-key', `the peer's ephemeral key has ${peerPublic.length} bytes, not 32`);
  let shared: Uint8Array;
  try {
    const privateKey = privateKeyOf(secret);
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(peerPublic) }, format: 'jwk' });
    shared = new Uint8Array(diffieHellman({ privateKey, publicKey }));
  } catch (err) {
    // OpenSSL refuses the all-zero result itself; either way the key is unusable.
    throw new SealError('weak-key', `X25519 with the peer's ephemeral key failed: ${(err as Error).message}`);
  }
  if (shared.every((b) => b === 0)) throw new SealError('weak-key', "the peer's ephemeral key is of low order");
  return shared;
}

/**
 * The bytes a v2 peer signs in `Auth`: `"syncwire-auth-v2" ‖ SHA-256(challengerHello) ‖
 * SHA-256(signerHello)`, each `Hello` as the exact frame body its sender sent (80 bytes).
 */
export function authTranscriptV2(challengerHello: Uint8Array, signerHello: Uint8Array): Uint8Array {
  return Buffer.concat([AUTH_V2_CONTEXT, sha256(challengerHello), sha256(signerHello)]);
}

/** The two keys of one sealed link, as seen from one side. */
export interface SealKeys {
  /** Seals what this side sends. */
  readonly send: Uint8Array;
  /** Opens what the peer sends. */
  readonly receive: Uint8Array;
  /** `SHA-256("syncwire-seal-v1" ‖ min(h₁, h₂) ‖ max(h₁, h₂))` over the two `Hello` hashes. */
  readonly transcriptHash: Uint8Array;
}

/**
 * The key schedule (§7.3). `ownHello`/`peerHello` are the exact frame bodies of the two `Hello`s.
 * @throws SealError `weak-key` or `reflected`.
 */
export function deriveSealKeys(ownHello: Uint8Array, peerHello: Uint8Array, ownSecret: Uint8Array, peerEphemeral: Uint8Array): SealKeys {
  const hOwn = sha256(ownHello);
  const hPeer = sha256(peerHello);
  if (equalBytes(hOwn, hPeer)) throw new SealError('reflected', 'the peer sent our own Hello back');
  const shared = x25519(ownSecret, peerEphemeral);
  const [lo, hi] = compareBytes(hOwn, hPeer) < 0 ? [hOwn, hPeer] : [hPeer, hOwn];
  const transcriptHash = sha256(Buffer.concat([SEAL_CONTEXT, lo, hi]));
  const key = (senderHash: Uint8Array) => new Uint8Array(hkdfSync('sha256', shared, transcriptHash, Buffer.concat([SEAL_CONTEXT, senderHash]), 32));
  return { send: key(hOwn), receive: key(hPeer), transcriptHash };
}

/** The 12-byte AEAD nonce of a sequence number: 8 zero bytes, then the number big-endian. */
function aeadNonce(seq: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32BE(seq, 8);
  return n;
}

/**
 * Seal one frame body: `0x53 ‖ seq (u32 BE) ‖ ChaCha20-Poly1305(key, nonce(seq), aad = header, plaintext) ‖ tag`.
 * An empty plaintext is the sealed close marker.
 * @throws RangeError when `seq` is not a u32.
 */
export function sealFrame(key: Uint8Array, seq: number, plaintext: Uint8Array): Uint8Array {
  if (!Number.isInteger(seq) || seq < 0 || seq > SEAL_SEQ_MAX) throw new RangeError(`sequence number ${seq} is not a u32`);
  const out = new Uint8Array(SEAL_OVERHEAD + plaintext.length);
  out[0] = SEAL_MARKER;
  new DataView(out.buffer).setUint32(1, seq);
  const header = out.subarray(0, SEAL_HEADER_BYTES);
  const c = createCipheriv('chacha20-poly1305', key, aeadNonce(seq), { authTagLength: SEAL_TAG_BYTES });
  c.setAAD(header, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  out.set(body, SEAL_HEADER_BYTES);
  out.set(c.getAuthTag(), SEAL_HEADER_BYTES + plaintext.length);
  return out;
}

/** Whether a frame body is a sealed frame (by its marker; opening decides whether it is genuine). */
export function isSealed(body: Uint8Array): boolean {
  return body.length > 0 && body[0] === SEAL_MARKER;
}

/** The sequence number in a sealed frame's header (unauthenticated until it opens). */
export function sealedSeq(body: Uint8Array): number {
  return new DataView(body.buffer, body.byteOffset, body.length).getUint32(1);
}

/**
 * Open a sealed frame.
 * @returns its sequence number and plaintext (empty: the close marker).
 * @throws SealError `not-sealed` or `bad-tag`.
 */
export function openFrame(key: Uint8Array, body: Uint8Array): { seq: number; plaintext: Uint8Array } {
  if (body.length < SEAL_OVERHEAD || body[0] !== SEAL_MARKER) throw new SealError('not-sealed', `not a sealed frame (${body.length} bytes)`);
  const seq = sealedSeq(body);
  const tagAt = body.length - SEAL_TAG_BYTES;
  const d = createDecipheriv('chacha20-poly1305', key, aeadNonce(seq), { authTagLength: SEAL_TAG_BYTES });
  d.setAAD(body.subarray(0, SEAL_HEADER_BYTES), { plaintextLength: tagAt - SEAL_HEADER_BYTES });
  d.setAuthTag(body.subarray(tagAt));
  const plaintext = d.update(body.subarray(SEAL_HEADER_BYTES, tagAt));
  try {
    d.final();
  } catch {
    throw new SealError('bad-tag', `sealed frame ${seq} failed to open`);
  }
  return { seq, plaintext: new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length) };
}

/**
 * The receiver's replay window (§7.4): accepts each sequence number at most once, and only if it
 * is above the highest opened so far or less than {@link REPLAY_WINDOW} below it. Update it only
 * after a frame opened: a forged header must not move it.
 */
export class ReplayWindow {
  /** Highest sequence number accepted; -1 before the first. */
  private top = -1;
  /** Bit i set: `top − i` was accepted (i < 64). */
  private seen = 0n;

  /** Whether `seq` would be accepted (not a replay, not too old). */
  fresh(seq: number): boolean {
    if (seq > this.top) return true;
    const back = this.top - seq;
    return back < REPLAY_WINDOW && ((this.seen >> BigInt(back)) & 1n) === 0n;
  }

  /** Record `seq` as accepted; returns false (and records nothing) when it is not {@link fresh}. */
  accept(seq: number): boolean {
    if (!this.fresh(seq)) return false;
    if (seq > this.top) {
      const shift = seq - this.top;
      this.seen = shift >= REPLAY_WINDOW ? 1n : ((this.seen << BigInt(shift)) | 1n) & ((1n << BigInt(REPLAY_WINDOW)) - 1n);
      this.top = seq;
    } else {
      this.seen |= 1n << BigInt(this.top - seq);
    }
    return true;
  }
}

/** One direction of a sealed link on the sending side: the key and the next sequence number. */
export class Sealer {
  private seq = 0;
  constructor(private readonly key: Uint8Array) {}

  /** Sequence number the next frame gets. */
  get next(): number {
    return this.seq;
  }

  /** Whether the sender should start a fresh handshake now (§7.4). */
  get rekeyDue(): boolean {
    return this.seq >= SEAL_REKEY_AT;
  }

  /**
   * Seal the next frame.
   * @throws SealError `exhausted` once every sequence number was used.
   */
  seal(plaintext: Uint8Array): Uint8Array {
    if (this.seq > SEAL_SEQ_MAX) throw new SealError('exhausted', 'sealed sequence numbers used up; re-handshake');
    return sealFrame(this.key, this.seq++, plaintext);
  }
}

/** One direction of a sealed link on the receiving side: the key and the replay window. */
export class Opener {
  private readonly window = new ReplayWindow();
  constructor(private readonly key: Uint8Array) {}

  /**
   * Open a frame and admit it through the replay window.
   * @returns the plaintext, or null for a replay or a frame too old for the window.
   * @throws SealError `not-sealed` or `bad-tag` (the window is untouched).
   */
  open(body: Uint8Array): Uint8Array | null {
    if (body.length >= SEAL_OVERHEAD && body[0] === SEAL_MARKER && !this.window.fresh(sealedSeq(body))) return null;
    const { seq, plaintext } = openFrame(this.key, body);
    return this.window.accept(seq) ? plaintext : null;
  }
}
