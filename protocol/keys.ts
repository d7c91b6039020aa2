/**
 * ed25519 identities from `node:crypto`: key generation, raw key conversion, signing, verifying,
 * and the link-authentication transcript. Pure computation, no file or network I/O.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { NONCE_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './constants.js';
import { fingerprint } from './command.js';

// DER prefixes that wrap a raw 32-byte ed25519 key as SPKI (public) or PKCS#8 (private).
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** Domain-separation prefix of the link-authentication transcript. */
export const AUTH_SIGN_CONTEXT = new TextEncoder().encode('syncwire-auth-v1');

/** An ed25519 identity: raw keys plus the derived fingerprint and peer id. */
export interface Identity {
  /** Raw 32-byte private seed. */
  secretKey: Uint8Array;
  /** Raw 32-byte public key. */
  publicKey: Uint8Array;
  /** 8-byte fingerprint (the command `author` field). */
  author: Uint8Array;
  /** Peer id: the fingerprint as 16 lowercase hex characters. */
  peerId: string;
  /** Sign bytes with this identity. */
  sign(data: Uint8Array): Uint8Array;
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Bytes of a hex string. @throws Error on odd length or non-hex characters. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`not a hex string: ${hex.slice(0, 20)}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Peer id (16 hex chars) of a raw public key. */
export function peerIdOf(publicKey: Uint8Array): string {
  return toHex(fingerprint(publicKey));
}

/** Build an identity from a raw 32-byte private seed. */
export function identityFromSecret(secretKey: Uint8Array): Identity {
  if (secretKey.length !== 32) throw new Error('ed25519 secret key must be 32 bytes');
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(spki.length - PUBLIC_KEY_BYTES));
  const author = fingerprint(publicKey);
  return {
    secretKey: Uint8Array.from(secretKey),
    publicKey,
    author,
    peerId: toHex(author),
    sign: (data) => new Uint8Array(sign(null, data, priv)),
  };
}

/** Generate a fresh identity. */
export function generateIdentity(): Identity {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return identityFromSecret(new Uint8Array(der.subarray(der.length - 32)));
}

const keyCache = new Map<string, KeyObject>();

/** A `KeyObject` for a raw public key, cached (bounded) because building one costs more than a verify. */
export function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const hex = toHex(publicKey);
  let k = keyCache.get(hex);
  if (k === undefined) {
    if (publicKey.length !== PUBLIC_KEY_BYTES) throw new Error('ed25519 public key must be 32 bytes');
    k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    if (keyCache.size >= 4096) keyCache.clear();
    keyCache.set(hex, k);
  }
  return k;
}

/** Verify an ed25519 signature synchronously; false on any malformed input. */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  try {
    return verify(null, data, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * Verify on libuv's thread pool so several verifies run on several cores at once.
 * Resolves false on any malformed input.
 */
export function verifySignatureAsync(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (signature.length !== SIGNATURE_BYTES) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify(null, data, publicKeyObject(publicKey), signature, (err, ok) => resolve(err === null && ok));
    } catch {
      resolve(false);
    }
  });
}

/**
 * The bytes a peer signs to answer a `Hello` challenge: context ‖ challenger's nonce ‖ the
 * challenger's public key ‖ the signer's public key. Binding both keys stops a relay from
 * replaying one side's answer on another link.
 */
export function authTranscript(challengeNonce: Uint8Array, challengerKey: Uint8Array, signerKey: Uint8Array): Uint8Array {
  if (challengeNonce.length !== NONCE_BYTES) throw new Error('nonce must be 16 bytes');
  return Buffer.concat([AUTH_SIGN_CONTEXT, challengeNonce, challengerKey, signerKey]);
}
