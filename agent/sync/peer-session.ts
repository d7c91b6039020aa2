/**
 * One link to one peer: the handshakes ({@link HandshakeDriver}: the first, then re-handshakes
 * beside the up session, PROTOCOL.md §7.1, §7.5), the sealed channel once up (§7.4), the
 * responder role ({@link SessionResponder}) and the requester role ({@link Requester}). Incoming
 * frames are opened, decoded and routed by {@link SessionInbound}. The session sees the engine
 * only as a {@link SessionHost}. This file holds the link's state and its send path.
 */
import { Capability, MIN_FRAME_BYTES } from '../../protocol/constants.js';
import { encodeMessage } from '../../protocol/envelope.js';
import { errorMessage } from '../../protocol/error-message.js';
import type { ReasonName } from '../../protocol/errors.js';
import type { Message } from '../../protocol/messages.js';
import { SEAL_OVERHEAD } from '../../protocol/seal.js';
import type { Link } from '../link.js';
import type { Handshake, PeerHello } from './handshake.js';
import { HandshakeDriver, type DriverHost } from './handshake-driver.js';
import type { ClientPacer } from './pacing.js';
import { Requester } from './requester.js';
import { SealedChannel } from './sealed-channel.js';
import { SessionInbound } from './session-inbound.js';
import type { HostedSession, SessionHost } from './session-host.js';
import { SessionResponder } from './session-responder.js';
import { newSessionStats, type SessionStats } from './session-stats.js';
import { sessionRequesterHost } from './session-requester-host.js';

export type { SessionStats } from './session-stats.js';

/** A link's protocol session. */
export class PeerSession implements DriverHost, HostedSession {
  /** The peer as its accepted `Hello` describes it (key, id, frame limit, capabilities), else null. */
  peer: PeerHello | null = null;
  authenticated = false;
  readonly stats: SessionStats = newSessionStats();
  readonly requester: Requester;
  /** Answers the peer's polls and holds its subscription (the engine's poll queue serves it). */
  readonly responder: SessionResponder;
  /** The handshakes of this link: the first, then re-handshakes beside the up session. */
  readonly handshakes: HandshakeDriver;
  /** The sealed channel, once up on a sealed link. */
  channel: SealedChannel | null = null;
  private readonly inbound: SessionInbound;
  private closing = false;
  /** True while the link is above its high-water mark. */
  blocked = false;
  /** Epoch ms (engine clock) of the last frame received on the link, null before any. */
  lastContactMs: number | null = null;

  constructor(
    private readonly host: SessionHost,
    readonly link: Link,
    pacer: ClientPacer,
  ) {
    this.requester = new Requester(sessionRequesterHost(this, host), pacer);
    this.responder = new SessionResponder(host, this);
    this.inbound = new SessionInbound(host, this);
    link.on('frame', (body) => {
      this.lastContactMs = host.settings.now();
      host.frameIn(this.peerId, body);
      this.inbound.push(body);
    });
    link.on('frame-error', () => this.stats.badFrames++);
    link.on('drain', () => {
      this.blocked = false;
      host.linkDrained();
    });
    link.on('rehandshake', () => void this.handshakes.start('transport hint'));
    link.once('close', () => this.onClose());
    this.handshakes = new HandshakeDriver(host, this);
  }

  /** The peer's id ('' before its `Hello` was accepted). */
  get peerId(): string {
    return this.peer?.id ?? '';
  }

  /** {@link Handshake.linkKey} of the session's handshake: both ends keep the link with the smaller. */
  get linkKey(): string {
    return this.handshakes.current.linkKey;
  }

  /** Whether the link is up and sealed. */
  get sealed(): boolean {
    return this.channel !== null;
  }

  /** Largest message we may send this peer: the frame limit, less the seal on a sealed link. */
  get sendLimit(): number {
    return Math.min(this.peer?.maxFrame ?? MIN_FRAME_BYTES, this.link.maxFrame) - (this.channel !== null ? SEAL_OVERHEAD : 0);
  }

  /** Whether the link is up and open. */
  get live(): boolean {
    return this.authenticated && this.link.open;
  }

  /** Whether the peer takes bare-command pushes. */
  get acceptsBare(): boolean {
    return ((this.peer?.caps ?? 0) & Capability.BareCommand) !== 0;
  }

  /** When the frame being handled reached the session (performance.now). */
  get frameArrivedAt(): number {
    return this.inbound.frameArrivedAt;
  }

  /** Whether we currently hold a push subscription with this peer. */
  get subscribed(): boolean {
    return this.requester.subscribed;
  }

  /** {@link HostedSession}: whether this peer pushes to us, or will once our first round ends. */
  get upstream(): boolean {
    return this.requester.upstream;
  }

  /** Encode and send a message. */
  send(msg: Message): void {
    this.sendFrame(encodeMessage(msg));
  }

  /** Send one encoded message: sealed once the link is up sealed, else as it is. */
  sendFrame(body: Uint8Array): void {
    if (!this.link.open) return;
    const ch = this.channel;
    if (ch === null) return this.transmit(body);
    let sealed: Uint8Array;
    try {
      sealed = ch.seal(body);
    } catch (err) {
      // Every sequence number used without a completed re-handshake (§7.4): the link must go.
      this.host.log.warn({ peer: this.peerId, err: String(err) }, 'sealed sequence numbers used up; closing the link');
      return void this.close(false);
    }
    this.transmit(sealed, body);
    if (ch.rekeyDue) this.handshakes.start('rekey', false);
  }

  /** Send a typed error. */
  sendError(reason: ReasonName, message: string, retryAfterMs: number | null): void {
    this.send(errorMessage(reason, message, retryAfterMs));
  }

  /**
   * Send a frame body as it is (Hello, Auth, anything before the link is up, sealed bodies);
   * `message` is what it carries, for observers (default: the body itself).
   */
  transmit(body: Uint8Array, message: Uint8Array = body): void {
    if (!this.link.open) return;
    this.stats.framesOut++;
    this.stats.bytesOut += body.length;
    this.host.frameOut(this.peerId, message, body);
    if (!this.link.send(body)) this.blocked = true;
  }

  /** {@link HostedSession}: our upstream set changed: tell this peer (re-subscribe with a new `via`). */
  viaChanged(): void {
    if (this.authenticated) this.requester.resubscribeSoon();
  }

  /**
   * Close the session and its link. Idempotent. A sealed link first gets the sealed close marker
   * (§7.6), unless `marker` is false (the peer closed it, or the sequence numbers are used up).
   */
  async close(marker = true): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.requester.stop();
    if (marker && this.channel !== null && this.link.open) {
      try {
        this.transmit(this.channel.seal(new Uint8Array(0)), new Uint8Array(0));
      } catch {
        // No sequence number left for it: the link closes unmarked.
      }
    }
    await this.link.close();
    this.onClose();
  }

  private onClose(): void {
    this.inbound.stop();
    this.handshakes.stop();
    this.requester.stop();
    this.host.onDown(this);
  }

  /** {@link DriverHost}: the first handshake accepted the peer's Hello. */
  accepted(hs: Handshake): void {
    this.peer = hs.peer;
  }

  /** {@link DriverHost}: the first handshake completed: the link is up. */
  up(hs: Handshake): void {
    this.authenticated = true;
    this.link.markAuthenticated?.(); // a listener takes the link out of its pre-auth pool
    if (hs.keys !== null) this.seal(hs);
    this.host.learnKey(this.peer!.publicKey);
    if (!this.host.onUp(this) || this.closing) return; // the peer's other link was kept
    for (const keys of this.host.keyAnnouncements()) this.send({ type: 'Keys', keys });
    this.requester.start();
  }

  /** {@link DriverHost}: a re-handshake completed; its keys and nonces replace ours, all else is kept. */
  switched(hs: Handshake): void {
    this.peer = hs.peer;
    if (hs.keys !== null && this.channel !== null) this.channel.rekey(hs.keys);
    else if (hs.keys !== null) this.seal(hs); // an unsealed session upgraded (never the reverse)
    this.stats.rehandshakes++;
    this.host.log.info({ peer: this.peerId, link: this.link.description, sealed: this.sealed }, 're-handshake complete');
    this.requester.relinked();
  }

  /** {@link DriverHost}: count a dropped re-handshake input. */
  dropped(why: string): void {
    this.stats.handshakeDropped++;
    this.host.log.debug({ peer: this.peerId, why }, 're-handshake input dropped');
  }

  private seal(hs: Handshake): void {
    this.channel = new SealedChannel(hs.keys!, this.host.settings.rekeyAt, this.host.settings.now);
    this.link.markSealed?.();
  }

}
