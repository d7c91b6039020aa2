/**
 * A v2 session's incoming frames (protocol-v2.md §7.4, §8, §14.2): taken in arrival order with a
 * bounded amount of work per event-loop turn ({@link Intake}), opened on a sealed link, decoded
 * by `decodeMessageV2` within the frame cap, then routed — `Hello`/`Auth` to the handshakes,
 * `Scopes`/`ScopesAck` to the announcer, everything scoped to {@link SessionV2Scoped}. A bad
 * frame is counted and, once the link is up, answered at most once per 16 (§14.2); before the
 * link is up nothing is answered, except that a `Hello` of another version is refused with the
 * 3-field `UnsupportedVersion` and the link closed (§3.1) — here when the decoder already knows
 * it (a `Hello` without `ephemeral`), in the handshake otherwise.
 */
import { decodeMessageV2, encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { errorMessage } from '../../protocol/error-message.js';
import { ReasonCode, SyncwireError, type ReasonName } from '../../protocol/errors.js';
import type { MessageV2, ScopesMessage } from '../../protocol/messages-v2.js';
import { isSealed } from '../../protocol/seal.js';
import type { HandshakeDriver } from './handshake-driver.js';
import type { SealedChannel } from './sealed-channel.js';
import type { LinkWatchdog } from './link-watchdog.js';
import type { ScopeAnnouncer } from './scope-announcer.js';
import type { SessionV2Host, SessionV2Stats } from './session-v2-host.js';
import type { SessionV2Scoped } from './session-v2-scoped.js';
import { Intake } from './session-timers.js';

/** The parts of the session frames are routed to. */
export interface InboundV2Session {
  readonly peerId: string;
  readonly link: { readonly description: string };
  readonly authenticated: boolean;
  readonly channel: SealedChannel | null;
  readonly stats: SessionV2Stats;
  /** The link's scope table: the next `Scopes` seq expected from the peer. */
  readonly table: { readonly expected: number };
  /** The peer started its end anew: restart this link's scope state and apply its first `Scopes`. */
  restartScopes(first: ScopesMessage): void;
  /** `stats.rehandshakes` when this link's scope tables last started (0: at link-up). */
  readonly tablesStartedAt: number;
  readonly handshakes: HandshakeDriver;
  readonly announcer: ScopeAnnouncer;
  readonly scoped: SessionV2Scoped;
  /** The link's dead-link watchdog: told whenever the peer is heard. */
  readonly watchdog: LinkWatchdog;
  /** Send an `Error` (sealed once up on a sealed link); `scope` only for an answer to a scoped message. */
  sendError(reason: ReasonName, text: string, retryAfterMs: number | null, scope?: number): void;
  /** Send a frame body as it is (a pre-up refusal). */
  transmit(body: Uint8Array): void;
  close(marker?: boolean): Promise<void>;
  /** Count a version refusal (sent or received) and hold the dialer's redial (§7.1). */
  versionRefused(): void;
}

/** Bad frames of a link answered: the 1st, 17th, 33rd, … (§14.2). */
export const BAD_FRAME_ANSWER_EVERY = 16;

/** Decodes and routes one v2 session's frames. */
export class SessionV2Inbound {
  private readonly intake: Intake;

  constructor(
    private readonly host: Pick<SessionV2Host, 'settings' | 'log'>,
    private readonly s: InboundV2Session,
  ) {
    this.intake = new Intake((body) => this.onFrame(body), () => s.stats.intakeDropped++);
  }

  /** A frame body arrived on the link. */
  push(body: Uint8Array): void {
    this.intake.push(body);
  }

  /** Drop what waits; take nothing more (the link closed). */
  stop(): void {
    this.intake.stop();
  }

  /**
   * Count one bad frame of the link; true when this one is answered (count 16k + 1, link up).
   * Unroutable scoped requests count here too (§9.5).
   */
  badFrame(): boolean {
    const n = ++this.s.stats.badFrames;
    return this.s.authenticated && n % BAD_FRAME_ANSWER_EVERY === 1;
  }

  private onFrame(body: Uint8Array): void {
    const s = this.s;
    s.stats.framesIn++;
    s.stats.bytesIn += body.length;
    if (isSealed(body) && s.channel !== null) return this.onSealed(s.channel, body);
    if (isSealed(body)) return void s.stats.droppedBeforeAuth++; // sealed by a peer up before us: it retries
    let msg: MessageV2;
    try {
      msg = decodeMessageV2(body, this.host.settings.maxFrame);
    } catch (err) {
      if (s.channel !== null) return void s.stats.unsealedDropped++; // never answered unsealed
      return this.undecodable(err);
    }
    if (msg.type === 'Hello') return s.handshakes.onHello(msg, body);
    if (msg.type === 'Auth') return s.handshakes.onAuth(msg.signature);
    if (!s.authenticated) return this.beforeUp(msg);
    if (s.channel !== null) return void s.stats.unsealedDropped++; // §7.4 rule 4: changes no state
    this.handle(msg);
  }

  private onSealed(channel: SealedChannel, body: Uint8Array): void {
    const s = this.s;
    const r = channel.open(body);
    if (r.kind === 'failure') return void s.stats.sealFailures++; // never answered (§7.4)
    if (r.kind === 'replay') return void s.stats.replays++;
    if (r.kind === 'close') {
      this.host.log.info({ peer: s.peerId, link: s.link.description }, 'peer closed the sealed link');
      return void s.close(false);
    }
    let msg: MessageV2;
    try {
      msg = decodeMessageV2(r.plaintext, this.host.settings.maxFrame);
    } catch (err) {
      return this.undecodable(err);
    }
    if (msg.type === 'Hello' || msg.type === 'Auth') s.stats.badFrames++; // never sealed
    else this.handle(msg);
  }

  private undecodable(err: unknown): void {
    const s = this.s;
    const reason = err instanceof SyncwireError ? err.reason : 'Malformed';
    const text = err instanceof Error ? err.message : String(err);
    if (reason === 'UnsupportedVersion' && !s.authenticated) {
      // A Hello of another version without `ephemeral` (a v1 peer older than sealing): §3.1.
      s.versionRefused();
      this.host.log.warn({ link: s.link.description }, `a peer speaks another protocol version (${text}): upgrade it`);
      s.transmit(encodeMessageV2(errorMessage('UnsupportedVersion', text)));
      return void s.close(false);
    }
    if (this.badFrame()) s.sendError(reason, text, null);
    this.host.log.debug({ peer: s.peerId, reason, err: text }, 'bad frame');
  }

  private beforeUp(msg: MessageV2): void {
    const s = this.s;
    if (msg.type !== 'Error') return void s.stats.droppedBeforeAuth++; // our Auth may be overtaken: the peer retries
    s.stats.errorsIn++;
    const fields = { peer: s.peerId, link: s.link.description, code: msg.code, message: msg.message };
    // §3.1, §7.1: both ends of a refused link say why; nothing else changes.
    if (msg.code === ReasonCode.UnsupportedVersion) {
      s.versionRefused();
      this.host.log.warn(fields, 'peer refused the link: it speaks another protocol version');
    } else if (msg.code === ReasonCode.SealingRequired) this.host.log.warn(fields, 'peer refused the link: it requires sealing');
    else this.host.log.debug(fields, 'error before the link is up (ignored)');
  }

  private handle(msg: MessageV2): void {
    const s = this.s;
    s.watchdog.heard(); // any message of the up link proves it carries the peer's messages back
    try {
      switch (msg.type) {
        case 'Scopes':
          // Seq 0 again after a re-handshake, when this link already applied one: the peer started its
          // end anew with empty tables (§9.4 rule 1). Once per re-handshake: our own restart sends
          // seq 0 too, and a peer that took it for a restart of ours must not restart us again.
          if (msg.seq === 0 && s.table.expected > 0 && s.stats.rehandshakes > s.tablesStartedAt) return s.restartScopes(msg);
          return s.announcer.onScopes(msg);
        case 'ScopesAck':
          return s.announcer.onScopesAck(msg);
        default:
          return s.scoped.handle(msg);
      }
    } catch (err) {
      this.host.log.error({ peer: s.peerId, err: String(err) }, 'message handling failed');
      s.sendError('Internal', 'internal error', 1000);
    }
  }
}
