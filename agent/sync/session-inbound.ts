/**
 * A session's incoming frames: taken in arrival order with a bounded amount of work per turn of
 * the event loop ({@link Intake}), opened on a sealed link, decoded, capped and schema-checked,
 * then routed — `Hello`/`Auth` to the handshakes, requests to the responder, answers and pushes to
 * the requester. A bad frame is counted, answered with a typed error when that is safe (never an
 * unsealed frame on a sealed link), and never crashes.
 */
import { decodeMessage } from '../../protocol/envelope.js';
import { ReasonCode, SyncwireError, type ReasonName } from '../../protocol/errors.js';
import type { Message } from '../../protocol/messages.js';
import { isSealed } from '../../protocol/seal.js';
import type { HandshakeDriver } from './handshake-driver.js';
import type { Requester } from './requester.js';
import type { SealedChannel } from './sealed-channel.js';
import type { SessionHost } from './session-host.js';
import type { SessionResponder } from './session-responder.js';
import type { SessionStats } from './session-stats.js';
import { Intake } from './session-timers.js';

/** The parts of the session that frames are routed to. */
export interface InboundSession {
  readonly peerId: string;
  readonly link: { readonly description: string };
  readonly authenticated: boolean;
  readonly channel: SealedChannel | null;
  readonly stats: SessionStats;
  readonly handshakes: HandshakeDriver;
  readonly responder: SessionResponder;
  readonly requester: Requester;
  sendError(reason: ReasonName, message: string, retryAfterMs: number | null): void;
  close(marker?: boolean): Promise<void>;
}

/** Frames dropped at close that are examined for a refusal (it comes right after the Hellos). */
const LAST_WORDS_SCAN = 16;

/** Decodes and routes one session's frames. */
export class SessionInbound {
  private readonly intake: Intake;
  /** When the frame being handled reached the session (performance.now): apply latency starts here. */
  frameArrivedAt = 0;
  /** Set by stop(): what the intake drops from now on is the link's last words. */
  private closing = false;
  /** How many of the last words were looked at (at most {@link LAST_WORDS_SCAN}). */
  private lastWordsSeen = 0;

  constructor(
    private readonly host: Pick<SessionHost, 'settings' | 'log'>,
    private readonly s: InboundSession,
  ) {
    this.intake = new Intake(
      (body, at) => this.onFrame(body, at),
      (body) => {
        s.stats.intakeDropped++;
        if (this.closing) this.lastWords(body);
      },
    );
  }

  /** A frame body arrived on the link. */
  push(body: Uint8Array): void {
    this.intake.push(body);
  }

  /**
   * Drop what waits; take nothing more (the link closed). A refusal among the first dropped
   * frames is still logged: a peer that refuses a link sends an unsealed `Error` and closes at
   * once, and its reason must reach the operator even when the close overtook the frame here.
   */
  stop(): void {
    this.closing = true;
    this.intake.stop();
  }

  /** Logs `body` if it is an unsealed `Error`; changes no other state, and looks at a few frames at most. */
  private lastWords(body: Uint8Array): void {
    if (this.lastWordsSeen++ >= LAST_WORDS_SCAN || isSealed(body)) return;
    try {
      const msg = decodeMessage(body, this.host.settings.maxFrame);
      if (msg.type !== 'Error') return;
      this.lastWordsSeen = LAST_WORDS_SCAN; // one line at most: a flood cannot fill the log
      this.logError(msg.code, msg.message, 'peer sent error as the link closed');
    } catch {
      /* undecodable: counted as dropped, nothing to say */
    }
  }

  private onFrame(body: Uint8Array, arrivedAt: number): void {
    const s = this.s;
    this.frameArrivedAt = arrivedAt;
    s.stats.framesIn++;
    s.stats.bytesIn += body.length;
    if (isSealed(body) && s.channel !== null) return this.onSealed(s.channel, body);
    // Sealed by a peer that came up before us: its requests retry.
    if (isSealed(body) && !s.authenticated) return void s.stats.droppedBeforeAuth++;
    let msg: Message;
    try {
      msg = decodeMessage(body, this.host.settings.maxFrame);
    } catch (err) {
      if (s.channel !== null) s.stats.unsealedDropped++; // never answered unsealed
      else this.badFrame(err);
      return;
    }
    if (msg.type === 'Hello') return s.handshakes.onHello(msg, body);
    if (msg.type === 'Auth') return s.handshakes.onAuth(msg.signature);
    if (!s.authenticated) return this.beforeUp(msg);
    if (s.channel !== null) return void s.stats.unsealedDropped++; // §7.4 rule 4: changes no state
    this.handle(msg, body.length);
  }

  private onSealed(channel: SealedChannel, body: Uint8Array): void {
    const s = this.s;
    const r = channel.open(body);
    // Never answered: a forged or replayed frame must not make us send anything (§7.4).
    if (r.kind === 'failure') return void s.stats.sealFailures++;
    if (r.kind === 'replay') return void s.stats.replays++;
    if (r.kind === 'close') {
      this.host.log.info({ peer: s.peerId, link: s.link.description }, 'peer closed the sealed link');
      return void s.close(false); // nothing is sent back (§7.6)
    }
    let msg: Message;
    try {
      msg = decodeMessage(r.plaintext, this.host.settings.maxFrame);
    } catch (err) {
      return this.badFrame(err);
    }
    if (msg.type === 'Hello' || msg.type === 'Auth') s.stats.badFrames++; // never sealed
    else this.handle(msg, r.plaintext.length);
  }

  private badFrame(err: unknown): void {
    const s = this.s;
    s.stats.badFrames++;
    const reason = err instanceof SyncwireError ? err.reason : 'Malformed';
    this.host.log.debug({ peer: s.peerId, reason, err: String(err) }, 'bad frame');
    // Answer once per few bad frames at most, so garbage cannot make us flood the link.
    if (s.stats.badFrames % 16 === 1) s.sendError(reason, String((err as Error).message ?? err), null);
  }

  private beforeUp(msg: Message): void {
    if (msg.type !== 'Error') {
      // Our Auth may simply not have arrived yet (reordering): drop quietly, the requester retries.
      this.s.stats.droppedBeforeAuth++;
      return;
    }
    // §7: counted and logged, nothing else: an unauthenticated sender must not steer the
    // requester (a forged MaximumSubscriptionsExceeded would hold our subscription back).
    this.s.stats.errorsIn++;
    this.logError(msg.code, msg.message, 'error before the link is up (ignored)');
  }

  /** An up message (opened, or plain on an unsealed link); `bytes` is its encoded size. */
  private handle(msg: Message, bytes: number): void {
    const s = this.s;
    try {
      if (s.responder.handle(msg)) return;
      switch (msg.type) {
        case 'PollResponse':
          return s.requester.onPollResponse(msg, bytes);
        case 'Push':
          return s.requester.onPush(msg);
        case 'SubscribeAck':
          return s.requester.onSubscribeAck(msg.remain_open, msg.max_bytes);
        case 'Error':
          s.stats.errorsIn++;
          this.logError(msg.code, msg.message, 'peer sent error');
          return s.requester.onError(msg.code, msg.retry_after_ms);
      }
    } catch (err) {
      this.host.log.error({ peer: s.peerId, err: String(err) }, 'message handling failed');
      s.sendError('Internal', 'internal error', 1000);
    }
  }

  private logError(code: number, message: string, what: string): void {
    const fields = { peer: this.s.peerId, link: this.s.link.description, code, message };
    // Both ends of a link refused for sealing say why (§7.1).
    if (code === ReasonCode.SealingRequired) this.host.log.warn(fields, 'peer refused the link: it requires sealing');
    else this.host.log.debug(fields, what);
  }
}
