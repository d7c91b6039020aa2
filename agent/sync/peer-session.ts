/**
 * One link to one peer: the handshakes ({@link HandshakeDriver}: the first, then re-handshakes
 * beside the up session, PROTOCOL.md §7.1, §7.5), the sealed channel once up (§7.4), the
 * responder role ({@link SessionResponder}) and, through {@link SyncClient}, the requester role.
 * Every frame is opened or decoded, capped and schema-checked; a bad frame is counted, answered
 * with a typed error when that is safe (never an unsealed frame on a sealed link), and never
 * crashes. This file routes frames and keeps the link's counters; the rules live in the parts.
 */
import { Capability, MIN_FRAME_BYTES } from '../../protocol/constants.js';
import { decodeMessage, encodeMessage } from '../../protocol/envelope.js';
import { errorMessage } from '../../protocol/error-message.js';
import { ReasonCode, SyncwireError, type ReasonName } from '../../protocol/errors.js';
import type { Message } from '../../protocol/messages.js';
import { SEAL_OVERHEAD, isSealed } from '../../protocol/seal.js';
import type { Link } from '../link.js';
import type { Engine } from './engine.js';
import type { Handshake, PeerHello } from './handshake.js';
import { HandshakeDriver, type DriverHost } from './handshake-driver.js';
import type { ClientPacer } from './pacing.js';
import { SealedChannel } from './sealed-channel.js';
import { Intake } from './session-timers.js';
import { SessionResponder } from './session-responder.js';
import { SyncClient } from './sync-client.js';
import { newSessionStats, type SessionStats } from './session-stats.js';

export type { SessionStats } from './session-stats.js';

/** A link's protocol session. */
export class PeerSession implements DriverHost {
  peerId = '';
  peerKey: Uint8Array | null = null;
  peerMaxFrame = MIN_FRAME_BYTES;
  peerCaps = 0;
  authenticated = false;
  readonly stats: SessionStats = newSessionStats();
  readonly client: SyncClient;
  /** Answers the peer's polls and holds its subscription (the engine's poll queue serves it). */
  readonly responder: SessionResponder;
  /** The handshakes of this link: the first, then re-handshakes beside the up session. */
  private readonly handshakes: HandshakeDriver;
  /** The sealed channel, once up on a sealed link. */
  private channel: SealedChannel | null = null;
  /** Incoming frames, handled in order with a bounded amount of work per event-loop turn. */
  private readonly intake: Intake;
  private closing = false;
  private lastFrameBytes = 0;
  /** True while the link is above its high-water mark. */
  blocked = false;
  /** Epoch ms (engine clock) of the last frame received on the link, null before any. */
  lastContactMs: number | null = null;
  /** When the frame being handled reached the session (performance.now): apply latency starts here. */
  frameArrivedAt = 0;

  constructor(
    readonly engine: Engine,
    readonly link: Link,
    pacer: ClientPacer,
  ) {
    this.client = new SyncClient(this, pacer);
    this.responder = new SessionResponder(this);
    this.intake = new Intake((body, at) => this.onFrame(body, at), () => this.stats.intakeDropped++);
    link.on('frame', (body) => {
      this.lastContactMs = engine.settings.now();
      this.intake.push(body);
    });
    link.on('frame-error', () => this.stats.badFrames++);
    link.on('drain', () => {
      this.blocked = false;
      engine.schedulePush();
    });
    link.on('rehandshake', () => void this.handshakes.start('transport hint'));
    link.once('close', () => this.onClose());
    this.handshakes = new HandshakeDriver(this);
  }

  /** {@link Handshake.linkKey} of the session's handshake: both ends keep the link with the smaller (engine.ts). */
  get linkKey(): string {
    return this.handshakes.current.linkKey;
  }

  /** Whether the link is up and sealed. */
  get sealed(): boolean {
    return this.channel !== null;
  }

  /** Largest message we may send this peer: the frame limit, less the seal on a sealed link. */
  get sendLimit(): number {
    return Math.min(this.peerMaxFrame, this.link.maxFrame) - (this.channel !== null ? SEAL_OVERHEAD : 0);
  }

  /** Whether the link is up and open. */
  get live(): boolean {
    return this.authenticated && this.link.open;
  }

  /** Whether the peer takes bare-command pushes. */
  get acceptsBare(): boolean {
    return (this.peerCaps & Capability.BareCommand) !== 0;
  }

  /** Whether we currently hold a push subscription with this peer. */
  get subscribed(): boolean {
    return this.client.subscribed;
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
    try {
      this.transmit(ch.seal(body));
    } catch (err) {
      // Every sequence number used without a completed re-handshake (§7.4): the link must go.
      this.engine.log.warn({ peer: this.peerId, err: String(err) }, 'sealed sequence numbers used up; closing the link');
      return void this.close(false);
    }
    if (ch.rekeyDue) this.handshakes.start('rekey', false);
  }

  /** Send a typed error. */
  sendError(reason: ReasonName, message: string, retryAfterMs: number | null): void {
    this.send(errorMessage(reason, message, retryAfterMs));
  }

  /** Our upstream set changed: tell this peer (re-subscribe with a new `via`). */
  viaChanged(): void {
    if (this.authenticated) this.client.resubscribeSoon();
  }

  /**
   * Close the session and its link. Idempotent. A sealed link first gets the sealed close marker
   * (§7.6), unless `marker` is false (the peer closed it, or the sequence numbers are used up).
   */
  async close(marker = true): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.client.stop();
    if (marker && this.channel !== null && this.link.open) {
      try {
        this.transmit(this.channel.seal(new Uint8Array(0)));
      } catch {
        // No sequence number left for it: the link closes unmarked.
      }
    }
    await this.link.close();
    this.onClose();
  }

  private onClose(): void {
    this.intake.stop();
    this.handshakes.stop();
    this.client.stop();
    this.engine.detached(this);
  }

  /** Send a frame body as it is (Hello, Auth, anything before the link is up, sealed bodies). */
  transmit(body: Uint8Array): void {
    if (!this.link.open) return;
    this.stats.framesOut++;
    this.stats.bytesOut += body.length;
    if (!this.link.send(body)) this.blocked = true;
  }

  private onFrame(body: Uint8Array, arrivedAt: number): void {
    this.frameArrivedAt = arrivedAt;
    this.stats.framesIn++;
    this.stats.bytesIn += body.length;
    if (isSealed(body) && this.channel !== null) return this.onSealed(body);
    // Sealed by a peer that came up before us: its requests retry.
    if (isSealed(body) && !this.authenticated) return void this.stats.droppedBeforeAuth++;
    let msg: Message;
    try {
      msg = decodeMessage(body, this.engine.settings.maxFrame);
    } catch (err) {
      if (this.channel !== null) this.stats.unsealedDropped++; // never answered unsealed
      else this.badFrame(err);
      return;
    }
    if (msg.type === 'Hello') return this.handshakes.onHello(msg, body);
    if (msg.type === 'Auth') return this.handshakes.onAuth(msg.signature);
    if (!this.authenticated) return this.beforeUp(msg);
    if (this.channel !== null) return void this.stats.unsealedDropped++; // §7.4 rule 4: changes no state
    this.handle(msg, body.length);
  }

  private onSealed(body: Uint8Array): void {
    const r = this.channel!.open(body);
    // Never answered: a forged or replayed frame must not make us send anything (§7.4).
    if (r.kind === 'failure') return void this.stats.sealFailures++;
    if (r.kind === 'replay') return void this.stats.replays++;
    if (r.kind === 'close') {
      this.engine.log.info({ peer: this.peerId, link: this.link.description }, 'peer closed the sealed link');
      return void this.close(false); // nothing is sent back (§7.6)
    }
    let msg: Message;
    try {
      msg = decodeMessage(r.plaintext, this.engine.settings.maxFrame);
    } catch (err) {
      return this.badFrame(err);
    }
    if (msg.type === 'Hello' || msg.type === 'Auth') this.stats.badFrames++; // never sealed
    else this.handle(msg, r.plaintext.length);
  }

  private badFrame(err: unknown): void {
    this.stats.badFrames++;
    const reason = err instanceof SyncwireError ? err.reason : 'Malformed';
    this.engine.log.debug({ peer: this.peerId, reason, err: String(err) }, 'bad frame');
    // Answer once per few bad frames at most, so garbage cannot make us flood the link.
    if (this.stats.badFrames % 16 === 1) this.sendError(reason, String((err as Error).message ?? err), null);
  }

  private beforeUp(msg: Message): void {
    if (msg.type !== 'Error') {
      // Our Auth may simply not have arrived yet (reordering): drop quietly, the requester retries.
      this.stats.droppedBeforeAuth++;
      return;
    }
    // §7: counted and logged, nothing else: an unauthenticated sender must not steer the
    // requester (a forged MaximumSubscriptionsExceeded would hold our subscription back).
    this.stats.errorsIn++;
    this.logError(msg.code, msg.message, 'error before the link is up (ignored)');
  }

  /** An up message (opened, or plain on an unsealed link); `bytes` is its encoded size. */
  private handle(msg: Message, bytes: number): void {
    this.lastFrameBytes = bytes;
    try {
      if (this.responder.handle(msg)) return;
      switch (msg.type) {
        case 'PollResponse':
          return this.client.onPollResponse(msg, this.lastFrameBytes);
        case 'Push':
          return this.client.onPush(msg);
        case 'SubscribeAck':
          return this.client.onSubscribeAck(msg.remain_open, msg.max_bytes);
        case 'Error':
          this.stats.errorsIn++;
          this.logError(msg.code, msg.message, 'peer sent error');
          return this.client.onError(msg.code, msg.retry_after_ms);
      }
    } catch (err) {
      this.engine.log.error({ peer: this.peerId, err: String(err) }, 'message handling failed');
      this.sendError('Internal', 'internal error', 1000);
    }
  }

  private logError(code: number, message: string, what: string): void {
    const fields = { peer: this.peerId, link: this.link.description, code, message };
    // Both ends of a link refused for sealing say why (§7.1).
    if (code === ReasonCode.SealingRequired) this.engine.log.warn(fields, 'peer refused the link: it requires sealing');
    else this.engine.log.debug(fields, what);
  }

  /** {@link DriverHost}: the first handshake accepted the peer's Hello. */
  accepted(hs: Handshake): void {
    this.adopt(hs.peer!);
  }

  /** {@link DriverHost}: the first handshake completed: the link is up. */
  up(hs: Handshake): void {
    this.authenticated = true;
    this.link.markAuthenticated?.(); // a listener takes the link out of its pre-auth pool
    if (hs.keys !== null) this.seal(hs);
    this.engine.keys.learn(this.peerKey!);
    this.engine.authenticated(this);
    if (this.closing) return; // the peer's other link was kept
    for (const keys of this.engine.keys.announcements()) this.send({ type: 'Keys', keys });
    this.client.start();
  }

  /** {@link DriverHost}: a re-handshake completed; its keys and nonces replace ours, all else is kept. */
  switched(hs: Handshake): void {
    this.adopt(hs.peer!);
    if (hs.keys !== null && this.channel !== null) this.channel.rekey(hs.keys);
    else if (hs.keys !== null) this.seal(hs); // an unsealed session upgraded (never the reverse)
    this.stats.rehandshakes++;
    this.engine.log.info({ peer: this.peerId, link: this.link.description, sealed: this.sealed }, 're-handshake complete');
    this.client.relinked();
  }

  /** {@link DriverHost}: count a dropped re-handshake input. */
  dropped(why: string): void {
    this.stats.handshakeDropped++;
    this.engine.log.debug({ peer: this.peerId, why }, 're-handshake input dropped');
  }

  private seal(hs: Handshake): void {
    this.channel = new SealedChannel(hs.keys!, this.engine.settings.rekeyAt, this.engine.settings.now);
    this.link.markSealed?.();
  }

  private adopt(peer: PeerHello): void {
    this.peerKey = peer.publicKey;
    this.peerId = peer.id;
    this.peerMaxFrame = peer.maxFrame;
    this.peerCaps = peer.caps;
  }
}
