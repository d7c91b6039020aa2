/**
 * Link authentication of the v2 device (design v2-scopes §3.1, P§7.1–§7.3) as a state machine
 * with no I/O and no timers, the same rules as the v1 device's handshake (firmware-sim/device/
 * handshake.ts: repeats answered with the same bytes, a restarted peer's `Hello` replaces the
 * old, a new `Hello` once up starts over) with the v2 checks in the order of §3.1: a `Hello` of
 * another version is refused with the 3-field `Error{UnsupportedVersion}` and the link is
 * closed (`close` in the step); then trust (`Unauthorized`), then sealing.
 */
import { randomFillSync } from 'node:crypto';
import { equalBytes } from '../../protocol/bytes.js';
import { Capability, MIN_FRAME_BYTES } from '../../protocol/constants.js';
import { PROTOCOL_VERSION_2 } from '../../protocol/constants-v2.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { errorMessage } from '../../protocol/error-message.js';
import { peerIdOf, verifySignature, type Identity } from '../../protocol/keys.js';
import type { ErrorMessage, Hello } from '../../protocol/messages-v2.js';
import type { SealKeys, SealPolicy } from '../../protocol/seal.js';
import { OwnHelloV2, acceptHelloV2, peerTranscript, type PeerHelloV2 } from './hello-v2.js';

/** Where the handshake stands. */
export type HandshakeStateV2 = 'idle' | 'hello-sent' | 'up' | 'refused';

/** What one handshake input produced. */
export interface HandshakeStepV2 {
  /** Frame bodies to send, in order (never sealed). */
  send: Uint8Array[];
  /** This input brought the session up. */
  up: boolean;
  /** The link must be closed after sending (a version refusal, §3.1). */
  close: boolean;
}

const NOTHING: HandshakeStepV2 = { send: [], up: false, close: false };

/** The 3-field refusal of a `Hello` of version `v` (§3.1: exact text, no `scope`). */
export function unsupportedVersion(v: number | string): ErrorMessage {
  return errorMessage('UnsupportedVersion', `protocol version ${v} is not supported; this peer speaks version ${PROTOCOL_VERSION_2}`);
}

/** Options of a {@link DeviceHandshakeV2}. */
export interface HandshakeOptionsV2 {
  /** Sealing policy (P§7.2). Default `prefer`. */
  policy?: SealPolicy;
  /** Random source. Default `crypto.randomFillSync`. */
  random?: (buf: Uint8Array) => void;
  /** Announce `Push` (the device takes subscriptions, §11). Default false. */
  push?: boolean;
}

/** The device side of v2 link authentication and key agreement. */
export class DeviceHandshakeV2 {
  /** Current state. */
  state: HandshakeStateV2 = 'idle';
  /** Session keys while up on a sealed link, else null. */
  keys: SealKeys | null = null;
  /** Sealing policy. */
  readonly policy: SealPolicy;
  private readonly own: OwnHelloV2;
  private peer: PeerHelloV2 | null = null;
  private earlyAuth: Uint8Array | null = null;

  /** Capability bits besides `Seal` and `Push`: bare pushes. */
  static readonly caps = Capability.BareCommand;

  constructor(
    private readonly identity: Identity,
    maxFrame: number,
    private readonly admits: (publicKey: Uint8Array) => boolean,
    options: HandshakeOptionsV2 = {},
  ) {
    this.policy = options.policy ?? 'prefer';
    const caps = DeviceHandshakeV2.caps | (this.policy === 'off' ? 0 : Capability.Seal) | (options.push === true ? Capability.Push : 0);
    this.own = new OwnHelloV2(identity, maxFrame, caps, options.random ?? ((buf) => void randomFillSync(buf)));
  }

  /** The peer's key once its `Hello` was accepted, else null. */
  get peerKey(): Uint8Array | null {
    return this.peer?.key ?? null;
  }

  /** The peer's capability bits (0 until its `Hello`). */
  get peerCaps(): number {
    return this.peer?.caps ?? 0;
  }

  /** The peer's frame limit raised to `MIN_FRAME_BYTES` (0 until its `Hello`). */
  get peerMaxFrame(): number {
    return this.peer !== null ? Math.max(this.peer.maxFrame, MIN_FRAME_BYTES) : 0;
  }

  /** The link opened: a fresh `Hello`, its bytes. */
  open(): Uint8Array {
    this.standby();
    return this.hello();
  }

  /** Forget the peer and draw a fresh `Hello` without sending it. */
  standby(): void {
    this.forgetPeer();
    this.state = 'hello-sent';
    this.own.draw();
  }

  /** Our current `Hello` (same bytes until the next {@link open}). */
  hello(): Uint8Array {
    return this.own.take();
  }

  /** The link closed. */
  close(): void {
    this.forgetPeer();
    this.own.clear();
    this.state = 'idle';
  }

  /** Refuse a `Hello` that did not even decode because of its version (a v1 peer without `ephemeral`). */
  refuseVersion(err: ErrorMessage): HandshakeStepV2 {
    if (this.state === 'idle') return NOTHING;
    return { ...this.refuse(err), close: true };
  }

  /** Handle the peer's `Hello`; `body` is its exact frame body. */
  onHello(body: Uint8Array, h: Hello): HandshakeStepV2 {
    if (this.state === 'idle') return NOTHING;
    if (h.version !== PROTOCOL_VERSION_2) return this.refuseVersion(unsupportedVersion(h.version));
    if (this.peer !== null && equalBytes(body, this.peer.bytes)) {
      const send = this.state === 'up' ? [] : [this.hello()];
      send.push(this.peer.auth);
      return { send, up: false, close: false };
    }
    let helloDue = this.peer !== null || !this.own.out;
    if (this.state === 'up' || this.state === 'refused') {
      this.standby();
      helloDue = true;
    }
    const accepted = this.admits(h.public_key)
      ? acceptHelloV2(this.own, this.identity, this.policy, body, h)
      : errorMessage('Unauthorized', `peer ${peerIdOf(h.public_key)} is not trusted`);
    if ('code' in accepted) return this.refuse(accepted);
    const peer = (this.peer = accepted);
    const send = helloDue ? [this.hello()] : [];
    send.push(peer.auth);
    const early = this.earlyAuth;
    this.earlyAuth = null;
    // An Auth that overtook this Hello counts now; one that does not verify was stale.
    if (early !== null && verifySignature(peer.key, peerTranscript(this.own, peer), early)) {
      this.goUp();
      return { send, up: true, close: false };
    }
    return { send, up: false, close: false };
  }

  /** Handle the peer's `Auth` (kept when early, verified once its `Hello` is in, else ignored). */
  onAuth(signature: Uint8Array): HandshakeStepV2 {
    if (this.state !== 'hello-sent') return NOTHING;
    const peer = this.peer;
    if (peer === null) {
      this.earlyAuth = Uint8Array.from(signature);
      return NOTHING;
    }
    if (!verifySignature(peer.key, peerTranscript(this.own, peer), signature)) {
      return this.refuse(errorMessage('Unauthorized', 'link authentication failed'));
    }
    this.goUp();
    return { send: [peer.auth], up: true, close: false };
  }

  private refuse(err: ErrorMessage): HandshakeStepV2 {
    this.forgetPeer();
    this.own.wipe();
    this.state = 'refused';
    return { send: [encodeMessageV2(err)], up: false, close: false };
  }

  private goUp(): void {
    this.state = 'up';
    this.keys = this.peer!.keys; // set: goUp runs only with an accepted peer
    this.own.wipe();
  }

  private forgetPeer(): void {
    this.earlyAuth = null;
    this.peer = null;
    this.keys = null;
  }
}
