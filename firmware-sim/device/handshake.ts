/**
 * Link authentication of the simulated device (PROTOCOL.md §7.1–§7.3), as a small state machine
 * with no I/O and no timers: both ends send `Hello` when the link opens; each answers the other's
 * challenge with `Auth`; the session is up once the peer's `Auth` verifies. Every `Hello` carries a
 * fresh X25519 key (`ephemeral`) and, on policy `require`/`prefer`, the `Seal` bit; a link both
 * ends offer to seal gets per-direction keys ({@link DeviceHandshake.keys}) from the two `Hello`s.
 *
 * The transcript covers exact bytes, so our `Hello` is encoded once per nonce and re-sent as those
 * bytes, and the peer's is kept as received (hello-exchange.ts: the `Hello`s, keys, transcripts).
 * Hellos get lost, so the device repeats its `Hello`
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
import { randomFillSync } from 'node:crypto';
import {
  Capability, MIN_FRAME_BYTES, PROTOCOL_VERSION, encodeMessage, peerIdOf, verifySignature,
  type ErrorMessage, type Hello, type Identity,
} from '../../protocol/index.js';
import { equalBytes } from '../../protocol/bytes.js';
import { errorMessage } from '../../protocol/error-message.js';
import type { SealKeys, SealPolicy } from '../../protocol/seal.js';
import { OwnHello, acceptHello, signedBy, type PeerHello } from './hello-exchange.js';

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
  /** The session keys while up on a sealed link, else null. */
  keys: SealKeys | null = null;
  /** Sealing policy of this link. */
  readonly policy: SealPolicy;
  /** Our current `Hello`. */
  private readonly own: OwnHello;
  /** The peer's `Hello`, once accepted. */
  private peer: PeerHello | null = null;
  /** An `Auth` that came before the peer's `Hello` (§7.1 step 3: kept, checked when it comes). */
  private earlyAuth: Uint8Array | null = null;

  /**
   * @param identity the device's key pair.
   * @param maxFrame largest frame body the device accepts (announced).
   * @param admits whether a peer key may connect.
   */
  constructor(
    private readonly identity: Identity,
    maxFrame: number,
    private readonly admits: (publicKey: Uint8Array) => boolean,
    options: HandshakeOptions = {},
  ) {
    this.policy = options.policy ?? 'prefer';
    const caps = DeviceHandshake.caps | (this.policy === 'off' ? 0 : Capability.Seal);
    this.own = new OwnHello(identity, maxFrame, caps, options.random ?? ((buf) => void randomFillSync(buf)));
  }

  /** Capability bits the device announces besides `Seal`: bare-command pushes (it takes no subscriptions). */
  static readonly caps = Capability.BareCommand;

  /** Whether the session is up and sealed. */
  get sealed(): boolean {
    return this.state === 'up' && this.keys !== null;
  }

  /** The peer's public key once its `Hello` was accepted (a copy), else null. */
  get peerKey(): Uint8Array | null {
    return this.peer?.key ?? null;
  }

  /** The peer's announced capability bits (0 until its `Hello`). */
  get peerCaps(): number {
    return this.peer?.caps ?? 0;
  }

  /** The peer's frame limit, raised to `MIN_FRAME_BYTES` (0 until its `Hello`). */
  get peerMaxFrame(): number {
    return this.peer !== null ? Math.max(this.peer.maxFrame, MIN_FRAME_BYTES) : 0;
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
    this.own.draw();
  }

  /** Our current `Hello`: the same bytes every time until the next {@link open} (a retransmission). */
  hello(): Uint8Array {
    return this.own.take();
  }

  /** The link closed. */
  close(): void {
    this.forgetPeer();
    this.own.clear();
    this.state = 'idle';
  }

  /** Handle the peer's `Hello`; `body` is its exact frame body. */
  onHello(body: Uint8Array, h: Hello): HandshakeStep {
    if (this.state === 'idle') return NOTHING;
    if (this.peer !== null && equalBytes(body, this.peer.bytes)) {
      // Rule 1, a repeat: our Auth (or our Hello) was lost on the way. Answer again, change nothing.
      const send: Outgoing[] = this.state === 'up' ? [] : [{ type: 'Hello', body: this.hello() }];
      send.push({ type: 'Auth', body: this.peer.auth });
      return { send, up: false };
    }
    // Rule 3 draws a fresh Hello; rule 2 keeps ours but the restarted peer lacks it.
    let helloDue = this.peer !== null || !this.own.out;
    if (this.state === 'up' || this.state === 'refused') {
      this.standby();
      helloDue = true;
    }
    const accepted = this.check(h) ?? acceptHello(this.own, this.identity, this.policy, body, h);
    if ('code' in accepted) return this.refuse(accepted); // an Error: refused
    const peer = (this.peer = accepted);
    const send: Outgoing[] = helloDue ? [{ type: 'Hello', body: this.hello() }] : [];
    send.push({ type: 'Auth', body: peer.auth });
    const early = this.earlyAuth;
    this.earlyAuth = null;
    // An Auth that overtook this Hello counts now; one that does not verify was stale: dropped.
    if (early !== null && verifySignature(peer.key, signedBy('peer', this.own, peer, this.identity), early)) {
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
    const peer = this.peer;
    if (peer === null) {
      this.earlyAuth = Uint8Array.from(a.signature);
      return NOTHING;
    }
    if (!verifySignature(peer.key, signedBy('peer', this.own, peer, this.identity), a.signature)) {
      return this.refuse(errorMessage('Unauthorized', 'link authentication failed'));
    }
    this.goUp();
    // §7.1 step 4: one more copy of our Auth, in case the first was lost.
    return { send: [{ type: 'Auth', body: peer.auth }], up: true };
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
    this.own.wipe();
    this.state = 'refused';
    return { send: [{ type: 'Error', body: encodeMessage(err) }], up: false };
  }

  private goUp(): void {
    this.state = 'up';
    this.keys = this.peer!.keys;
    this.own.wipe();
  }

  private forgetPeer(): void {
    this.earlyAuth = null;
    this.peer = null;
    this.keys = null;
  }
}
