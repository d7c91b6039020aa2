/**
 * What the two `Hello`s of one handshake amount to (PROTOCOL.md §7.1–§7.3), without the rules of
 * when to send what (handshake.ts): our `Hello`, drawn once per handshake and kept as its exact
 * bytes (the transcripts cover bytes); the peer's, once accepted, with the session keys both
 * imply and our `Auth` for it; and the transcripts each side signs — v2 over both `Hello`s when
 * the peer's carries `ephemeral`, else v1 over nonce and keys (legacy peers, `off` links only).
 * Pure: no I/O, no timers.
 */
import { NONCE_BYTES, PROTOCOL_VERSION, authTranscript, encodeMessage, type ErrorMessage, type Hello, type Identity } from '../../protocol/index.js';
import { errorMessage } from '../../protocol/error-message.js';
import {
  SealError, authTranscriptV2, deriveSealKeys, ephemeralFromSecret, type EphemeralKey, type SealKeys, type SealPolicy,
} from '../../protocol/seal.js';
import { negotiateSeal } from './seal.js';

/** Our `Hello` of the current handshake. */
export class OwnHello {
  /** Its exact bytes (empty until drawn, and after {@link clear}). */
  bytes: Uint8Array = new Uint8Array(0);
  /** Its nonce. */
  readonly nonce = new Uint8Array(NONCE_BYTES);
  /** Its X25519 key, until {@link wipe} (forward secrecy: wiped once the session is up). */
  ephemeral: EphemeralKey | null = null;
  /** Whether these bytes went out at least once. */
  out = false;

  /**
   * @param caps capability bits announced (`Seal` included unless the policy is `off`).
   * @param random fills a buffer with random bytes (nonce, ephemeral secret).
   */
  constructor(
    private readonly identity: Identity,
    private readonly maxFrame: number,
    private readonly caps: number,
    private readonly random: (buf: Uint8Array) => void,
  ) {}

  /** Draw a fresh `Hello` (new nonce, new ephemeral key), not yet sent. */
  draw(): void {
    this.wipe();
    this.random(this.nonce);
    const secret = new Uint8Array(32);
    this.random(secret);
    this.ephemeral = ephemeralFromSecret(secret);
    secret.fill(0);
    const hello: Hello = {
      type: 'Hello', version: PROTOCOL_VERSION, public_key: this.identity.publicKey, max_frame: this.maxFrame,
      caps: this.caps, nonce: Uint8Array.from(this.nonce), ephemeral: this.ephemeral.publicKey,
    };
    this.bytes = encodeMessage(hello);
    this.out = false;
  }

  /** The bytes to send (the same every time until the next {@link draw}: a retransmission). */
  take(): Uint8Array {
    this.out = true;
    return this.bytes;
  }

  /** Forget the ephemeral secret (zeroed). */
  wipe(): void {
    this.ephemeral?.secret.fill(0);
    this.ephemeral = null;
  }

  /** No handshake any more: secret wiped, bytes dropped. */
  clear(): void {
    this.wipe();
    this.bytes = new Uint8Array(0);
  }
}

/** The peer's `Hello`, accepted: copies of what the handshake keeps of it. */
export interface PeerHello {
  /** Its exact bytes, as received. */
  readonly bytes: Uint8Array;
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
  /** It carries `ephemeral`: v2 transcripts. */
  readonly v2: boolean;
  readonly caps: number;
  /** Its `max_frame` as announced. */
  readonly maxFrame: number;
  /** The session keys of a sealed link (in force once up), null on an unsealed one. */
  readonly keys: SealKeys | null;
  /** Our `Auth` answering it (its exact bytes). */
  readonly auth: Uint8Array;
}

/**
 * Accept the peer's `Hello` (`body`, decoded as `h`; its version and key already checked) under
 * `policy`: the sealing decision of §7.2, the key agreement of §7.3 and our `Auth`. Returns the
 * `Error` to refuse it with instead when sealing is refused or the key agreement fails.
 */
export function acceptHello(own: OwnHello, identity: Identity, policy: SealPolicy, body: Uint8Array, h: Hello): PeerHello | ErrorMessage {
  const sealed = negotiateSeal(policy, h);
  if (typeof sealed === 'string') return errorMessage('SealingRequired', sealed);
  let keys: SealKeys | null = null;
  if (sealed) {
    try {
      keys = deriveSealKeys(own.bytes, body, own.ephemeral!.secret, h.ephemeral!);
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      return errorMessage('Unauthorized', err.message);
    }
  }
  const peer = {
    bytes: Uint8Array.from(body), key: Uint8Array.from(h.public_key), nonce: Uint8Array.from(h.nonce),
    v2: h.ephemeral !== undefined, caps: h.caps, maxFrame: h.max_frame, keys,
  };
  const auth = encodeMessage({ type: 'Auth', signature: identity.sign(signedBy('us', own, peer, identity)) });
  return { ...peer, auth };
}

/** What our `Auth` signs (§7.1 step 2), or what the peer's must sign (step 3). */
export function signedBy(who: 'us' | 'peer', own: OwnHello, peer: Omit<PeerHello, 'auth'>, identity: Identity): Uint8Array {
  if (peer.v2) return who === 'us' ? authTranscriptV2(peer.bytes, own.bytes) : authTranscriptV2(own.bytes, peer.bytes);
  return who === 'us' ? authTranscript(peer.nonce, peer.key, identity.publicKey) : authTranscript(own.nonce, identity.publicKey, peer.key);
}
