/**
 * The handshake side of sealed links (PROTOCOL.md §7.1–§7.3): X25519 ephemeral keys (one pair per
 * `Hello`: forward secrecy), the v2 auth transcript that binds both `Hello`s byte for byte (static
 * and ephemeral keys, nonces, caps — so stripping the `Seal` bit breaks the signature), and the
 * HKDF-SHA256 key schedule giving one key per direction. Pure: keys and bytes in, bytes out;
 * randomness comes from the caller, so a firmware peer can match `docs/vectors/seal.json`.
 */
import { createPrivateKey, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';
import { compareBytes, sha256 } from './command.js';
import { equalBytes } from './bytes.js';
import { EPHEMERAL_KEY_BYTES } from './constants.js';
import { SyncwireError } from './errors.js';

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
