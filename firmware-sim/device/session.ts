/**
 * Between the simulated device's frame bodies and its messages (PROTOCOL.md §7.4): the handshake
 * ({@link DeviceHandshake}) and, once up on a sealed link, the {@link SealedSession}. It decides
 * what each received body is and turns each outgoing message into the body to send. Pure: no
 * I/O, no timers; it only counts into the device's stats.
 *
 * On a sealed, up link every body sent is sealed except `Hello` and `Auth`; of what arrives only
 * sealed frames that open are messages, an unsealed `Hello`/`Auth` goes to the handshake, and
 * anything else unsealed is dropped and counted, never answered. Before up (and on unsealed
 * links) it is the plain protocol, except that sealed frames are dropped and counted.
 */
import {
  MAX_FRAME_BYTES, MalformedError, SEAL_OVERHEAD, decodeMessage, encodeMessage, isSealed,
  type Identity, type Message,
} from '../../protocol/index.js';
import { DeviceHandshake, type HandshakeOptions, type HandshakeState, type HandshakeStep } from './handshake.js';
import { SealedSession } from './seal.js';
import type { DeviceStats } from './types.js';

/** What one received frame body amounts to for the device. */
export type Inbound =
  /** A message to act on: opened from a sealed frame, or unsealed where that is allowed. */
  | { kind: 'message'; msg: Message }
  /** A `Hello` or `Auth` the handshake took: send `step.send`; `down` if an up session ended. */
  | { kind: 'handshake'; step: HandshakeStep; down: boolean }
  /** The peer's sealed close marker: the session ended; nothing is answered. */
  | { kind: 'closed' }
  /** Dropped and counted (seal failure, replay, unsealed on a sealed link). */
  | { kind: 'dropped' }
  /** Not a valid message (a bad frame); `answer`: whether to reply `Error{Malformed}`. */
  | { kind: 'malformed'; error: Error; answer: boolean };

const DROPPED: Inbound = { kind: 'dropped' };

/** The counters a {@link DeviceSession} keeps. */
export type SessionStats = Pick<DeviceStats, 'sealFailures' | 'replays' | 'unsealedDropped' | 'rehandshakes'>;

/** One device's session on its link: handshake plus sealing. */
export class DeviceSession {
  /** The handshake state machine (read it; the link drives it). */
  readonly handshake: DeviceHandshake;
  private session: SealedSession | null = null;

  /**
   * @param maxFrame the device's frame limit (announced; its buffers are this big).
   * @param stats where the sealing counters go.
   */
  constructor(
    identity: Identity,
    private readonly maxFrame: number,
    admits: (publicKey: Uint8Array) => boolean,
    private readonly stats: SessionStats,
    options: HandshakeOptions = {},
  ) {
    this.handshake = new DeviceHandshake(identity, maxFrame, admits, options);
  }

  /** Handshake state. */
  get state(): HandshakeState {
    return this.handshake.state;
  }

  /** Whether the session is up and sealed. */
  get sealed(): boolean {
    return this.session !== null;
  }

  /** Sequence number of the next sealed frame sent, or null when not sealed. */
  get nextSeq(): number | null {
    return this.session?.nextSeq ?? null;
  }

  /** Whether the sender must re-handshake before sealing more (§7.4). */
  get rekeyDue(): boolean {
    return this.session?.rekeyDue ?? false;
  }

  /** Largest message body the peer takes from us (its limit, less the seal overhead). */
  get sendLimit(): number {
    const peer = this.handshake.peerMaxFrame > 0 ? this.handshake.peerMaxFrame : MAX_FRAME_BYTES;
    return peer - this.overhead;
  }

  /** Largest message body the device takes in one frame (its own limit, less the seal overhead). */
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

  /** Start over on a link that stays open (rekey): a fresh `Hello` (its bytes), counted. */
  restart(): Uint8Array {
    this.stats.rehandshakes++;
    return this.open();
  }

  /** The link closed. */
  close(): void {
    this.session = null;
    this.handshake.close();
  }

  /** The sealed close marker to send before closing, or null when the session is not sealed. */
  closeMarker(): Uint8Array | null {
    return this.session !== null && !this.session.rekeyDue ? this.session.seal(new Uint8Array(0)) : null;
  }

  /**
   * The body to send for `msg`: sealed on a sealed session, else plain. Null when it does not
   * fit the peer's frame limit (never sent) or does not encode.
   */
  encode(msg: Message): Uint8Array | null {
    let body: Uint8Array;
    try {
      body = encodeMessage(msg);
    } catch {
      return null; // a message we built ourselves; never expected
    }
    if (body.length > this.sendLimit) return null;
    return this.session !== null ? this.session.seal(body) : body;
  }

  /** Classify one received frame body (and run the handshake on `Hello`/`Auth`). */
  receive(body: Uint8Array): Inbound {
    const up = this.handshake.state === 'up';
    if (isSealed(body)) {
      if (this.session !== null) return this.opened(this.session, body);
      // No keys to open it with: before up (e.g. frames sealed under a session we dropped).
      // An unsealed up link treats it as any other body (it will not decode).
      if (!up) {
        this.stats.sealFailures++;
        return DROPPED;
      }
    }
    let msg: Message;
    try {
      msg = decodeMessage(body, this.maxFrame);
    } catch (err) {
      return { kind: 'malformed', error: err as Error, answer: up && this.session === null };
    }
    if (msg.type === 'Hello') {
      const step = this.handshake.onHello(body, msg);
      const down = up && this.handshake.state !== 'up';
      if (down) {
        this.session = null;
        this.stats.rehandshakes++;
      }
      return this.handshakeStep(step, down);
    }
    if (msg.type === 'Auth') return this.handshakeStep(this.handshake.onAuth(msg), false);
    if (this.session !== null) {
      this.stats.unsealedDropped++;
      return DROPPED;
    }
    return { kind: 'message', msg };
  }

  private handshakeStep(step: HandshakeStep, down: boolean): Inbound {
    if (step.up && this.handshake.keys !== null) this.session = new SealedSession(this.handshake.keys);
    return { kind: 'handshake', step, down };
  }

  private opened(session: SealedSession, body: Uint8Array): Inbound {
    const r = session.open(body);
    switch (r.kind) {
      case 'failed':
        this.stats.sealFailures++;
        return DROPPED;
      case 'replay':
        this.stats.replays++;
        return DROPPED;
      case 'close':
        // The peer closed: our session ends without a word; a fresh Hello waits for its return.
        this.session = null;
        this.handshake.standby();
        return { kind: 'closed' };
      default:
        break;
    }
    let msg: Message;
    try {
      msg = decodeMessage(r.body, this.maxFrame);
    } catch (err) {
      return { kind: 'malformed', error: err as Error, answer: true };
    }
    // Hello and Auth are never sealed (§7.4 rule 3): a peer that seals one is broken.
    if (msg.type === 'Hello' || msg.type === 'Auth') {
      return { kind: 'malformed', error: new MalformedError(`sealed ${msg.type} dropped`), answer: false };
    }
    return { kind: 'message', msg };
  }
}
