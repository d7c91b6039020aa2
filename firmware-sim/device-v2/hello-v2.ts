/**
 * The two `Hello`s of one protocol-v2 handshake (design v2-scopes §3.1, P§7.1–§7.3): our own,
 * drawn once per handshake and kept as its exact bytes (the transcript covers bytes), and the
 * peer's once accepted, with the session keys both imply and our `Auth`. In v2 every `Hello`
 * carries `ephemeral` and the transcript is always `authTranscriptV2`. Pure: no I/O, no timers.
 */
import { NONCE_BYTES } from '../../protocol/constants.js';
import { PROTOCOL_VERSION_2 } from '../../protocol/constants-v2.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { errorMessage } from '../../protocol/error-message.js';
import type { Identity } from '../../protocol/keys.js';
import type { ErrorMessage, Hello } from '../../protocol/messages-v2.js';
import { SealError, authTranscriptV2, deriveSealKeys, ephemeralFromSecret, type EphemeralKey, type SealKeys, type SealPolicy } from '../../protocol/seal.js';
import { negotiateSeal } from './seal.js';

/** Our `Hello` of the current handshake. */
export class OwnHelloV2 {
  /** Its exact bytes (empty until drawn, and after {@link clear}). */
  bytes: Uint8Array = new Uint8Array(0);
  /** Its X25519 key, until {@link wipe} (forward secrecy: wiped once the session is up). */
  ephemeral: EphemeralKey | null = null;
  /** Whether these bytes went out at least once. */
  out = false;
  private readonly nonce = new Uint8Array(NONCE_BYTES);

  /** @param caps capability bits announced. @param random fills a buffer with random bytes. */
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
    this.bytes = encodeMessageV2({
      type: 'Hello', version: PROTOCOL_VERSION_2, public_key: this.identity.publicKey, max_frame: this.maxFrame,
      caps: this.caps, nonce: Uint8Array.from(this.nonce), ephemeral: this.ephemeral.publicKey,
    });
    this.out = false;
  }

  /** The bytes to send (the same until the next {@link draw}: a retransmission). */
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

/** The peer's `Hello`, accepted. */
export interface PeerHelloV2 {
  /** Its exact bytes, as received. */
  readonly bytes: Uint8Array;
  /** Its public key (a copy). */
  readonly key: Uint8Array;
  /** Its capability bits. */
  readonly caps: number;
  /** Its `max_frame` as announced. */
  readonly maxFrame: number;
  /** Session keys of a sealed link, null on an unsealed one. */
  readonly keys: SealKeys | null;
  /** Our `Auth` answering it (exact bytes). */
  readonly auth: Uint8Array;
}

/**
 * Accept the peer's `Hello` (`body`, decoded as `h`; version and trust already checked): the
 * sealing decision of P§7.2 (the version-independent table of firmware-sim/device/seal.ts), the
 * key agreement and our `Auth`. Returns the `Error` to refuse it with instead.
 */
export function acceptHelloV2(own: OwnHelloV2, identity: Identity, policy: SealPolicy, body: Uint8Array, h: Hello): PeerHelloV2 | ErrorMessage {
  const sealed = negotiateSeal(policy, h);
  if (typeof sealed === 'string') return errorMessage('SealingRequired', sealed);
  let keys: SealKeys | null = null;
  if (sealed) {
    try {
      // `own.ephemeral` is set: a Hello is drawn before any peer Hello is accepted.
      keys = deriveSealKeys(own.bytes, body, own.ephemeral!.secret, h.ephemeral);
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      return errorMessage('Unauthorized', err.message);
    }
  }
  const peerBytes = Uint8Array.from(body);
  const auth = encodeMessageV2({ type: 'Auth', signature: identity.sign(authTranscriptV2(peerBytes, own.bytes)) });
  return { bytes: peerBytes, key: Uint8Array.from(h.public_key), caps: h.caps, maxFrame: h.max_frame, keys, auth };
}

/** What the peer's `Auth` must sign: the transcript with our `Hello` as the challenge. */
export function peerTranscript(own: OwnHelloV2, peer: PeerHelloV2): Uint8Array {
  return authTranscriptV2(own.bytes, peer.bytes);
}
