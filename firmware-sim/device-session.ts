/**
 * Link authentication of the simulated device, as a small state machine with no I/O: both ends
 * send `Hello` when the link opens; each answers the other's challenge with `Auth`, a signature
 * over `authTranscript(challengerNonce, challengerKey, ownKey)`; the session is up once the
 * peer's `Auth` verifies.
 *
 * Hellos get lost (the far port was not open yet, a frame was corrupted), so the device repeats
 * its `Hello` — same nonce — until the session is up. A repeated `Hello` of the peer (same key,
 * same nonce) is answered with our `Auth` again, plus our `Hello` while we are not up (the
 * peer evidently lacks our challenge). A `Hello` with a new nonce means the peer restarted its
 * side: we start over with a fresh challenge. Neither rule answers a `Hello` in a way that makes
 * the peer start over in turn, so two devices cannot ping-pong.
 */
import {
  Capability, NONCE_BYTES, PROTOCOL_VERSION, ReasonCode, authTranscript, verifySignature,
  type ErrorMessage, type Hello, type Identity, type Message, type ReasonName,
} from '../protocol/index.js';
import { randomFillSync } from 'node:crypto';
import { equalBytes } from '../protocol/bytes.js';

/** Where the handshake stands. */
export type HandshakeState =
  /** No link. */
  | 'idle'
  /** Our `Hello` is out; waiting for the peer's `Hello` and `Auth`. */
  | 'hello-sent'
  /** The peer proved its key; the session is up. */
  | 'up'
  /** We refused the peer (version or key); nothing but a new `Hello` is heeded. */
  | 'refused';

/** What one handshake input produced. */
export interface HandshakeStep {
  /** Messages to send, in order. */
  send: Message[];
  /** True when this input brought the session up. */
  up: boolean;
}

const NOTHING: HandshakeStep = { send: [], up: false };

/** Build a wire `Error` message. */
export function errorMessage(reason: ReasonName, message: string, retryAfterMs: number | null = null): ErrorMessage {
  return { type: 'Error', code: ReasonCode[reason], message, retry_after_ms: retryAfterMs };
}

/** The device side of link authentication. */
export class DeviceHandshake {
  /** Current state. */
  state: HandshakeState = 'idle';
  /** The peer's public key once its `Hello` was accepted (a copy), else null. */
  peerKey: Uint8Array | null = null;
  /** The peer's announced capability bits (0 until its `Hello`). */
  peerCaps = 0;
  /** The peer's announced frame limit (0 until its `Hello`). */
  peerMaxFrame = 0;
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  private readonly peerNonce = new Uint8Array(NONCE_BYTES);
  /** An `Auth` came before the peer's `Hello` reached us: the peer holds our challenge, we lack its. */
  private authDropped = false;

  /**
   * @param identity the device's key pair.
   * @param maxFrame largest frame body the device accepts (announced).
   * @param admits whether a peer key may connect.
   */
  constructor(
    private readonly identity: Identity,
    private readonly maxFrame: number,
    private readonly admits: (publicKey: Uint8Array) => boolean,
  ) {}

  /** Capability bits the device announces: bare-command pushes only (it takes no subscriptions). */
  static readonly caps = Capability.BareCommand;

  /** The link opened (or the peer restarted): forget the peer, draw a fresh nonce, return our `Hello`. */
  open(): Hello {
    this.forgetPeer();
    this.state = 'hello-sent';
    randomFillSync(this.nonce);
    return this.hello();
  }

  /** Our current `Hello` again, same nonce (a retransmission; changes no state). */
  hello(): Hello {
    return {
      type: 'Hello',
      version: PROTOCOL_VERSION,
      public_key: this.identity.publicKey,
      max_frame: this.maxFrame,
      caps: DeviceHandshake.caps,
      nonce: Uint8Array.from(this.nonce),
    };
  }

  /** The link closed. */
  close(): void {
    this.forgetPeer();
    this.state = 'idle';
  }

  /** Handle the peer's `Hello`. */
  onHello(h: Hello): HandshakeStep {
    if (this.state === 'idle') return NOTHING;
    const send: Message[] = [];
    if (this.peerKey !== null && equalBytes(h.public_key, this.peerKey) && equalBytes(h.nonce, this.peerNonce)) {
      // A repeat: our Auth (or our Hello) was lost on the way. Answer again, change nothing.
      if (this.state !== 'up') send.push(this.hello());
      send.push(this.authFor());
      return { send, up: false };
    }
    // Any other Hello after the peer's first one (or after we refused it) comes from a peer that
    // restarted its end: it needs a fresh challenge from us before it can authenticate.
    if (this.peerKey !== null || this.state === 'refused' || this.state === 'up') send.push(this.open());
    if (h.version !== PROTOCOL_VERSION) {
      this.state = 'refused';
      send.push(errorMessage('UnsupportedVersion', `protocol version ${h.version} not supported; this device speaks ${PROTOCOL_VERSION}`));
      return { send, up: false };
    }
    if (!this.admits(h.public_key)) {
      this.state = 'refused';
      send.push(errorMessage('Unauthorized', 'peer key is not trusted'));
      return { send, up: false };
    }
    this.peerKey = Uint8Array.from(h.public_key);
    this.peerNonce.set(h.nonce);
    this.peerCaps = h.caps;
    this.peerMaxFrame = h.max_frame;
    send.push(this.authFor());
    // The peer answered our challenge before we had its Hello, so we dropped that answer: show
    // it our Hello again, and its repeat rule sends the answer once more.
    if (this.authDropped && send[0]?.type !== 'Hello') send.push(this.hello());
    this.authDropped = false;
    return { send, up: false };
  }

  /**
   * Handle the peer's `Auth`: verified when its `Hello` was accepted and we are not up yet;
   * answered with `Error{Unauthorized}` when it comes before the peer's `Hello`; else ignored.
   */
  onAuth(a: { signature: Uint8Array }): HandshakeStep {
    if (this.state === 'hello-sent' && this.peerKey === null) {
      // Too early (§7): refused, but remembered — see onHello.
      this.authDropped = true;
      return { send: [errorMessage('Unauthorized', 'Auth before Hello')], up: false };
    }
    if (this.state !== 'hello-sent' || this.peerKey === null) return NOTHING;
    const transcript = authTranscript(this.nonce, this.identity.publicKey, this.peerKey);
    if (!verifySignature(this.peerKey, transcript, a.signature)) {
      this.state = 'refused';
      this.forgetPeer();
      return { send: [errorMessage('Unauthorized', 'link authentication failed')], up: false };
    }
    this.state = 'up';
    return { send: [], up: true };
  }

  private authFor(): Message {
    return { type: 'Auth', signature: this.identity.sign(authTranscript(this.peerNonce, this.peerKey!, this.identity.publicKey)) };
  }

  private forgetPeer(): void {
    this.authDropped = false;
    this.peerKey = null;
    this.peerCaps = 0;
    this.peerMaxFrame = 0;
    this.peerNonce.fill(0);
  }
}
