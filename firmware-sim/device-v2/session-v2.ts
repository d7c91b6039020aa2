/**
 * Between the v2 device's frame bodies and its messages: the handshake and, once up on a sealed
 * link, the sealed session (the version-independent `SealedSession` of firmware-sim/device/
 * seal.ts). Pure: no I/O, no timers; it counts into the device's stats. The same rules as the v1
 * device's session.ts: on a sealed, up link only sealed frames that open are messages, an
 * unsealed `Hello`/`Auth` goes to the handshake, anything else unsealed is dropped and counted.
 * A v1 `Hello` without `ephemeral` does not decode as v2; the decoder's `UnsupportedVersion`
 * becomes the 3-field refusal and a close (§3.1).
 */
import { MAX_FRAME_BYTES } from '../../protocol/constants.js';
import { decodeMessageV2, encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { MalformedError, SyncwireError } from '../../protocol/errors.js';
import { errorMessage } from '../../protocol/error-message.js';
import type { Identity } from '../../protocol/keys.js';
import type { MessageV2 } from '../../protocol/messages-v2.js';
import { SEAL_OVERHEAD, isSealed } from '../../protocol/seal.js';
import { SealedSession } from './seal.js';
import { DeviceHandshakeV2, type HandshakeOptionsV2, type HandshakeStepV2 } from './handshake-v2.js';
import type { DeviceV2Stats } from './types-v2.js';

/** What one received frame body amounts to. */
export type InboundV2 =
  | { kind: 'message'; msg: MessageV2 }
  | { kind: 'handshake'; step: HandshakeStepV2; down: boolean }
  | { kind: 'closed' }
  | { kind: 'dropped' }
  | { kind: 'malformed'; error: Error; answer: boolean };

const DROPPED: InboundV2 = { kind: 'dropped' };

/** One device's v2 session on its link. */
export class SessionV2 {
  /** The handshake (read it; the link drives it). */
  readonly handshake: DeviceHandshakeV2;
  private session: SealedSession | null = null;

  constructor(
    identity: Identity,
    private readonly maxFrame: number,
    admits: (publicKey: Uint8Array) => boolean,
    private readonly stats: DeviceV2Stats,
    options: HandshakeOptionsV2 = {},
  ) {
    this.handshake = new DeviceHandshakeV2(identity, maxFrame, admits, options);
  }

  /** Whether the session is up and sealed. */
  get sealed(): boolean {
    return this.session !== null;
  }

  /** Largest body the peer takes from us (its limit less the seal overhead). */
  get sendLimit(): number {
    const peer = this.handshake.peerMaxFrame > 0 ? this.handshake.peerMaxFrame : MAX_FRAME_BYTES;
    return peer - this.overhead;
  }

  /** Largest message body the device takes (its limit less the seal overhead). */
  get receiveLimit(): number {
    return this.maxFrame - this.overhead;
  }

  private get overhead(): number {
    return this.session !== null ? SEAL_OVERHEAD : 0;
  }

  /** The link opened: a fresh `Hello` (its bytes). */
  open(): Uint8Array {
    this.session = null;
    return this.handshake.open();
  }

  /** The link closed. */
  close(): void {
    this.session = null;
    this.handshake.close();
  }

  /** The sealed close marker to send before closing, or null. */
  closeMarker(): Uint8Array | null {
    return this.session !== null && !this.session.rekeyDue ? this.session.seal(new Uint8Array(0)) : null;
  }

  /** The body for `msg` (sealed on a sealed session), or null when it does not fit or encode. */
  encode(msg: MessageV2): Uint8Array | null {
    let body: Uint8Array;
    try {
      body = encodeMessageV2(msg);
    } catch {
      return null; // a message we built ourselves; never expected
    }
    return this.wrap(body);
  }

  /** The frame body for an already encoded message body (a bare push), sealed on a sealed session; null when it does not fit. */
  wrap(body: Uint8Array): Uint8Array | null {
    if (body.length > this.sendLimit) return null;
    if (this.session === null) return body;
    if (this.session.rekeyDue) return null; // sequence numbers used up: the link redials
    return this.session.seal(body);
  }

  /** Classify one received frame body (and run the handshake on `Hello`/`Auth`). */
  receive(body: Uint8Array): InboundV2 {
    const up = this.handshake.state === 'up';
    if (isSealed(body)) {
      if (this.session !== null) return this.opened(this.session, body);
      if (!up) {
        this.stats.sealFailures++;
        return DROPPED;
      }
    }
    let msg: MessageV2;
    try {
      msg = decodeMessageV2(body, this.maxFrame);
    } catch (err) {
      if (err instanceof SyncwireError && err.reason === 'UnsupportedVersion') {
        this.stats.versionRefused++;
        return this.step(this.handshake.refuseVersion(errorMessage('UnsupportedVersion', err.message)), up);
      }
      return { kind: 'malformed', error: err as Error, answer: up && this.session === null };
    }
    if (msg.type === 'Hello') {
      if (msg.version !== 2) this.stats.versionRefused++;
      return this.step(this.handshake.onHello(body, msg), up);
    }
    if (msg.type === 'Auth') return this.step(this.handshake.onAuth(msg.signature), up);
    if (this.session !== null) {
      this.stats.unsealedDropped++;
      return DROPPED;
    }
    return { kind: 'message', msg };
  }

  private step(step: HandshakeStepV2, wasUp: boolean): InboundV2 {
    const down = wasUp && this.handshake.state !== 'up';
    if (down) this.session = null;
    if (step.up && this.handshake.keys !== null) this.session = new SealedSession(this.handshake.keys);
    return { kind: 'handshake', step, down };
  }

  private opened(session: SealedSession, body: Uint8Array): InboundV2 {
    const r = session.open(body);
    if (r.kind === 'failed') {
      this.stats.sealFailures++;
      return DROPPED;
    }
    if (r.kind === 'replay') {
      this.stats.replays++;
      return DROPPED;
    }
    if (r.kind === 'close') {
      this.session = null;
      this.handshake.standby();
      return { kind: 'closed' };
    }
    let msg: MessageV2;
    try {
      msg = decodeMessageV2(r.body, this.maxFrame);
    } catch (err) {
      return { kind: 'malformed', error: err as Error, answer: true };
    }
    if (msg.type === 'Hello' || msg.type === 'Auth') {
      return { kind: 'malformed', error: new MalformedError(`sealed ${msg.type} dropped`), answer: false };
    }
    return { kind: 'message', msg };
  }
}
