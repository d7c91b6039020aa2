/**
 * Link authentication of the simulated device (PROTOCOL.md §7.1–§7.3), as a small state machine
 * with no I/O and no timers: both ends send `Hello` when the link opens; each answers the other's
 * challenge with `Auth`; the session is up once the peer's `Auth` verifies. Every `Hello` carries a
 * fresh X25519 key (`ephemeral`) and, on policy `require`/`prefer`, the `Seal` bit; a link both
 * ends offer to seal gets per-direction keys ({@link DeviceHandshake.keys}) from the two `Hello`s.
 *
 * The transcript covers exact bytes, so our `Hello` is encoded once per nonce and re-sent as those
 * bytes, and the peer's is kept as received. Hellos get lost, so the device repeats its `Hello`
 * until the session is up (the caller's timer). Three rules answer the peer's `Hello`:
 *
 * 1. The same bytes as the peer `Hello` we hold: our `Auth` again (plus our `Hello` while not
 *    up: the peer evidently lacks our challenge). Nothing changes.
 * 2. Different bytes before we are up: the peer restarted its end. Its new `Hello` replaces the
 *    old; we keep our own `Hello` and send it again with our new `Auth`.
 * 3. Different bytes once up (or after we refused the peer): a restart of the session
 *    (§7.5 allows a device this). We draw a fresh `Hello` and handshake anew.
 *
 * Only rule 3 draws a new `Hello`, and only from `up`/`refused`. The peer that receives it is in
 * a handshake of its own (it just sent a new `Hello`), so it answers by rule 1 or 2, which draw
 * nothing: two devices cannot ping-pong, and an agent's re-handshake (§7.5) never draws either.
 */
import {
  Capability, MIN_FRAME_BYTES, NONCE_BYTES, PROTOCOL_VERSION, authTranscript, encodeMessage,
  peerIdOf, verifySignature,
  type ErrorMessage, type Hello, type Identity,
} from '../../protocol/index.js';
import { errorMessage } from '../../protocol/error-message.js';
import {
  SealError, authTranscriptV2, deriveSealKeys, ephemeralFromSecret, type EphemeralKey, type SealKeys, type SealPolicy,
} from '../../protocol/seal.js';
import { randomFillSync } from 'node:crypto';
import { equalBytes } from '../../protocol/bytes.js';
import { negotiateSeal } from './seal.js';

/** Where the handshake stands. */
export type HandshakeState =
  /** No link. */
  | 'idle'
  /** Our `Hello` is drawn; waiting for the peer's `Hello` and `Auth`. */
  | 'hello-sent'
  /** The peer proved its key; the session is up. */
  | 'up'
  /** We refused the peer (version, key, sealing, `Auth`); nothing but a new `Hello` is heeded. */
  | 'refused';

/** One frame body the handshake wants sent, unsealed (these three types are never sealed). */
export interface Outgoing {
  /** What it is. */
  readonly type: 'Hello' | 'Auth' | 'Error';
  /** The exact frame body. */
  readonly body: Uint8Array;
}

/** What one handshake input produced. */
export interface HandshakeStep {
  /** Frame bodies to send, in order. */
  send: Outgoing[];
  /** True when this input brought the session up. */
  up: boolean;
}

/** Options of a {@link DeviceHandshake}. */
export interface HandshakeOptions {
  /** Sealing policy of the link (§7.2). Default `prefer` (the serial default). */
  policy?: SealPolicy;
  /** Fills a buffer with random bytes (nonces, ephemeral secrets). Default `crypto.randomFillSync`. */
  random?: (buf: Uint8Array) => void;
}

const NOTHING: HandshakeStep = { send: [], up: false };

/** The device side of link authentication and key agreement. */
export class DeviceHandshake {
  /** Current state. */
  state: HandshakeState = 'idle';
  /** The peer's public key once its `Hello` was accepted (a copy), else null. */
  peerKey: Uint8Array | null = null;
  /** The peer's announced capability bits (0 until its `Hello`). */
  peerCaps = 0;
  /** The peer's frame limit, raised to `MIN_FRAME_BYTES` (0 until its `Hello`). */
  peerMaxFrame = 0;
  /** The session keys while up on a sealed link, else null. */
  keys: SealKeys | null = null;
  /** Sealing policy of this link. */
  readonly policy: SealPolicy;
  private readonly random: (buf: Uint8Array) => void;
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  /** Our current `Hello`, encoded once (empty while idle). */
  private ownHello: Uint8Array = new Uint8Array(0);
  /** Whether {@link ownHello} went out at least once. */
  private ownHelloOut = false;
  /** Ephemeral key of {@link ownHello}; wiped once the session is up (forward secrecy). */
  private ephemeral: EphemeralKey | null = null;
  /** The peer's `Hello` exactly as received, once accepted. */
  private peerHello: Uint8Array | null = null;
  private peerNonce = new Uint8Array(NONCE_BYTES);
  /** The peer's `Hello` carries `ephemeral`: v2 transcripts. */
  private peerV2 = false;
  /** Keys agreed with the accepted peer `Hello`, not yet in force. */
  private pendingKeys: SealKeys | null = null;
  /** Our `Auth` for the accepted peer `Hello`. */
  private authBody: Uint8Array | null = null;
  /** An `Auth` that came before the peer's `Hello` (§7.1 step 3: kept, checked when it comes). */
  private earlyAuth: Uint8Array | null = null;

  /**
   * @param identity the device's key pair.
   * @param maxFrame largest frame body the device accepts (announced).
   * @param admits whether a peer key may connect.
   */
  constructor(
    private readonly identity: Identity,
    private readonly maxFrame: number,
    private readonly admits: (publicKey: Uint8Array) => boolean,
    options: HandshakeOptions = {},
  ) {
    this.policy = options.policy ?? 'prefer';
    this.random = options.random ?? ((buf) => void randomFillSync(buf));
  }

  /** Capability bits the device announces besides `Seal`: bare-command pushes (it takes no subscriptions). */
  static readonly caps = Capability.BareCommand;

  /** Whether the session is up and sealed. */
  get sealed(): boolean {
    return this.state === 'up' && this.keys !== null;
  }

  /** The link opened: forget the peer, draw a fresh `Hello`, return its bytes (counted as sent). */
  open(): Uint8Array {
    this.standby();
    return this.hello();
  }

  /**
   * Forget the peer and draw a fresh `Hello` without sending it (after the peer's close marker,
   * which is never answered): it goes out by {@link hello} or with our answer to the peer's `Hello`.
   */
  standby(): void {
    this.forgetPeer();
    this.state = 'hello-sent';
    this.random(this.nonce);
    const secret = new Uint8Array(32);
    this.random(secret);
    this.ephemeral = ephemeralFromSecret(secret);
    secret.fill(0);
    const caps = DeviceHandshake.caps | (this.policy === 'off' ? 0 : Capability.Seal);
    const hello: Hello = {
      type: 'Hello', version: PROTOCOL_VERSION, public_key: this.identity.publicKey, max_frame: this.maxFrame,
      caps, nonce: Uint8Array.from(this.nonce), ephemeral: this.ephemeral.publicKey,
    };
    this.ownHello = encodeMessage(hello);
    this.ownHelloOut = false;
  }

  /** Our current `Hello`: the same bytes every time until the next {@link open} (a retransmission). */
  hello(): Uint8Array {
    this.ownHelloOut = true;
    return this.ownHello;
  }

  /** The link closed. */
  close(): void {
    this.forgetPeer();
    this.wipeEphemeral();
    this.state = 'idle';
    this.ownHello = new Uint8Array(0);
  }

  /** Handle the peer's `Hello`; `body` is its exact frame body. */
  onHello(body: Uint8Array, h: Hello): HandshakeStep {
    if (this.state === 'idle') return NOTHING;
    if (this.peerHello !== null && equalBytes(body, this.peerHello)) {
      // Rule 1, a repeat: our Auth (or our Hello) was lost on the way. Answer again, change nothing.
      const send: Outgoing[] = this.state === 'up' ? [] : [{ type: 'Hello', body: this.hello() }];
      send.push({ type: 'Auth', body: this.authBody! });
      return { send, up: false };
    }
    // Rule 3 draws a fresh Hello; rule 2 keeps ours but the restarted peer lacks it.
    let helloDue = this.peerHello !== null || !this.ownHelloOut;
    if (this.state === 'up' || this.state === 'refused') {
      this.standby();
      helloDue = true;
    }
    const refusal = this.check(h);
    if (refusal !== null) return this.refuse(refusal);
    const sealed = negotiateSeal(this.policy, h);
    if (typeof sealed === 'string') return this.refuse(errorMessage('SealingRequired', sealed));
    let keys: SealKeys | null = null;
    if (sealed) {
      try {
        keys = deriveSealKeys(this.ownHello, body, this.ephemeral!.secret, h.ephemeral!);
      } catch (err) {
        if (!(err instanceof SealError)) throw err;
        return this.refuse(errorMessage('Unauthorized', err.message));
      }
    }
    this.peerHello = Uint8Array.from(body);
    this.peerKey = Uint8Array.from(h.public_key);
    this.peerNonce = Uint8Array.from(h.nonce);
    this.peerV2 = h.ephemeral !== undefined;
    this.peerCaps = h.caps;
    this.peerMaxFrame = Math.max(h.max_frame, MIN_FRAME_BYTES);
    this.pendingKeys = keys;
    this.authBody = encodeMessage({ type: 'Auth', signature: this.identity.sign(this.signedByUs()) });
    const send: Outgoing[] = helloDue ? [{ type: 'Hello', body: this.hello() }] : [];
    send.push({ type: 'Auth', body: this.authBody });
    const early = this.earlyAuth;
    this.earlyAuth = null;
    // An Auth that overtook this Hello counts now; one that does not verify was stale: dropped.
    if (early !== null && verifySignature(this.peerKey, this.signedByPeer(), early)) {
      this.goUp();
      return { send, up: true };
    }
    return { send, up: false };
  }

  /**
   * Handle the peer's `Auth`: kept when it comes before the peer's `Hello`; verified when that
   * `Hello` was accepted and we are not up yet (failure → `Error{Unauthorized}`); else ignored
   * (once up, it is the peer's extra copy).
   */
  onAuth(a: { signature: Uint8Array }): HandshakeStep {
    if (this.state !== 'hello-sent') return NOTHING;
    if (this.peerKey === null) {
      this.earlyAuth = Uint8Array.from(a.signature);
      return NOTHING;
    }
    if (!verifySignature(this.peerKey, this.signedByPeer(), a.signature)) {
      return this.refuse(errorMessage('Unauthorized', 'link authentication failed'));
    }
    const copy = this.authBody!;
    this.goUp();
    // §7.1 step 4: one more copy of our Auth, in case the first was lost.
    return { send: [{ type: 'Auth', body: copy }], up: true };
  }

  /** Version and trust checks of §7.1 step 2 (sealing comes after). */
  private check(h: Hello): ErrorMessage | null {
    if (h.version !== PROTOCOL_VERSION) {
      return errorMessage('UnsupportedVersion', `protocol version ${h.version} not supported; this device speaks ${PROTOCOL_VERSION}`);
    }
    if (!this.admits(h.public_key)) return errorMessage('Unauthorized', `peer ${peerIdOf(h.public_key)} is not trusted`);
    return null;
  }

  private refuse(err: ErrorMessage): HandshakeStep {
    this.forgetPeer();
    this.wipeEphemeral();
    this.state = 'refused';
    return { send: [{ type: 'Error', body: encodeMessage(err) }], up: false };
  }

  private goUp(): void {
    this.state = 'up';
    this.keys = this.pendingKeys;
    this.pendingKeys = null;
    this.wipeEphemeral();
  }

  /** What our `Auth` signs (§7.1 step 2). */
  private signedByUs(): Uint8Array {
    return this.peerV2
      ? authTranscriptV2(this.peerHello!, this.ownHello)
      : authTranscript(this.peerNonce, this.peerKey!, this.identity.publicKey);
  }

  /** What the peer's `Auth` must sign (§7.1 step 3). */
  private signedByPeer(): Uint8Array {
    return this.peerV2
      ? authTranscriptV2(this.ownHello, this.peerHello!)
      : authTranscript(this.nonce, this.identity.publicKey, this.peerKey!);
  }

  private wipeEphemeral(): void {
    this.ephemeral?.secret.fill(0);
    this.ephemeral = null;
  }

  private forgetPeer(): void {
    this.earlyAuth = null;
    this.peerHello = null;
    this.peerKey = null;
    this.peerV2 = false;
    this.peerCaps = 0;
    this.peerMaxFrame = 0;
    this.peerNonce = new Uint8Array(NONCE_BYTES);
    this.pendingKeys = null;
    this.keys = null;
    this.authBody = null;
  }
}
