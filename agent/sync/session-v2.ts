/**
 * One link's protocol-v2 session (docs/design/v2-scopes.md §3; protocol-v2.md §7–§10): the
 * handshakes (v1's {@link HandshakeDriver} speaking version 2 only: a `Hello` of another version
 * gets the 3-field `UnsupportedVersion` refusal and the link is closed, §3.1), the sealed channel
 * once up (unchanged from v1), incoming frames through {@link SessionV2Inbound}, and the link's
 * {@link ScopeTable} with its stop-and-wait {@link ScopeAnnouncer}. Scoped messages, the answers
 * to the peer's polls and the per-scope poll loops are {@link SessionV2Scoped}'s.
 *
 * Subscriptions and pushes (§11): the session announces `Push` and `BareCommand` in its `Hello`;
 * it is the engine pusher's {@link PushLinkV2} for this link (up: pushes may go to it; closed: the
 * peer's slots are suspended), and its scoped part subscribes to and takes pushes from the peer.
 * Re-handshakes keep the table (§7.5). One link per peer (§7.1): the engine keeps the peer's link
 * with the smaller {@link SessionV2.linkKey} and closes the other ({@link SessionV2Host.onUp}).
 *
 * Dead links (issue 16): the session's {@link LinkWatchdog} counts consecutive poll timeouts per
 * scope loop, resets them whenever the peer is heard, and closes the link at `deadAfterTimeouts`
 * (link-watchdog.ts has the rule).
 */
import { Capability, MIN_FRAME_BYTES } from '../../protocol/constants.js';
import { CAPABILITY_COMPACT_BATCH, CAPABILITY_POLL_TRAIN, PROTOCOL_VERSION_2 } from '../../protocol/constants-v2.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { errorMessage } from '../../protocol/error-message.js';
import type { ReasonName } from '../../protocol/errors.js';
import type { MessageV2, ScopesMessage } from '../../protocol/messages-v2.js';
import { SEAL_OVERHEAD } from '../../protocol/seal.js';
import type { Link } from '../link.js';
import type { Handshake } from './handshake.js';
import type { PushLinkV2 } from './pusher-v2.js';
import { HandshakeDriver, type DriverHost } from './handshake-driver.js';
import { LinkWatchdog } from './link-watchdog.js';
import { ClientPacer } from './pacing.js';
import { ScopeAnnouncer } from './scope-announcer.js';
import { ScopeTable } from './scope-table.js';
import { SealedChannel } from './sealed-channel.js';
import { newSessionV2Stats, type SessionV2Host, type SessionV2Like, type SessionV2Stats } from './session-v2-host.js';
import { handshakeEngineV2 } from './session-v2-handshake.js';
import { SessionV2Inbound } from './session-v2-inbound.js';
import { SessionV2Peer } from './session-v2-peer.js';
import { SessionV2Scoped } from './session-v2-scoped.js';

export type { SessionV2Host, SessionV2Like, SessionV2Stats } from './session-v2-host.js';
export { SessionV2Peer } from './session-v2-peer.js';

/** `Hello.caps` of a v2 session besides `Seal`: it answers `Subscribe` and pushes, takes bare pushes, and answers and asks for poll trains. */
export const SESSION_V2_CAPS = Capability.Push | Capability.BareCommand | CAPABILITY_POLL_TRAIN | CAPABILITY_COMPACT_BATCH;

let nextLinkId = 0;

/** The agent's maximum redial delay: a dialer whose link ended in a version refusal waits this long (protocol-v2.md §7.1), ms. */
export const VERSION_REDIAL_MS = 30_000;

/** A link's v2 session. */
export class SessionV2 extends SessionV2Peer implements DriverHost, SessionV2Like, PushLinkV2 {
  /** This link's id in the engine's push table (unique for the process's lifetime). */
  readonly linkId = nextLinkId++;
  /** The link is above its high-water mark (its last `send` returned false, no `drain` since). */
  blocked = false;
  authenticated = false;
  readonly stats: SessionV2Stats = newSessionV2Stats();
  readonly handshakes: HandshakeDriver;
  /** The sealed channel, once up on a sealed link. */
  channel: SealedChannel | null = null;
  /** This link's scope table (a new link starts with a new one). */
  /** This link's scope state: replaced only when the peer restarted its end ({@link restartScopes}). */
  table: ScopeTable;
  announcer: ScopeAnnouncer;
  scoped: SessionV2Scoped;
  /** Consecutive poll timeouts of this link's scope loops: kept across {@link restartScopes}. */
  readonly watchdog: LinkWatchdog;
  /** `stats.rehandshakes` when this link's scope tables last started (0 at link-up; {@link restartScopes}). */
  tablesStartedAt = 0;
  private readonly inbound: SessionV2Inbound;
  private closing = false;
  private down = false;

  constructor(
    private readonly host: SessionV2Host,
    readonly link: Link,
  ) {
    super();
    this.watchdog = new LinkWatchdog(host.settings.deadAfterTimeouts, (timeouts) => this.deadLink(timeouts));
    [this.scoped, this.table, this.announcer] = this.scopeState();
    this.inbound = new SessionV2Inbound(host, this);
    link.on('frame', (body) => this.inbound.push(body));
    link.on('frame-error', () => this.stats.badFrames++);
    link.on('rehandshake', () => void this.handshakes.start('transport hint'));
    link.on('drain', () => {
      this.blocked = false;
      host.pusher.schedule();
    });
    link.once('close', () => this.onClose());
    this.handshakes = new HandshakeDriver(handshakeEngineV2(host, () => this.versionRefused()), this, { version: PROTOCOL_VERSION_2, caps: SESSION_V2_CAPS });
  }

  /** {@link PushLinkV2}: the peer's number for S while S is active, else undefined. */
  theirNumber(scopeId: Uint8Array): number | undefined {
    return this.table.theirNumber(scopeId);
  }

  /** {@link PushLinkV2}: count commands pushed. */
  pushed(commands: number): void {
    this.stats.pushedCommands += commands;
  }

  /**
   * A version refusal of this link, sent or received (§7.1): counted, and the dialer that made the
   * link (if one did) is asked to redial only after {@link VERSION_REDIAL_MS}.
   */
  versionRefused(): void {
    this.stats.versionRefused++;
    this.link.holdRedial?.(VERSION_REDIAL_MS);
  }

  /** {@link SessionV2Like}: §7.1 link key of the latest completed handshake (v1's rule). */
  get linkKey(): string {
    return this.handshakes.current.linkKey;
  }

  /** {@link SessionV2Like}: the link's description. */
  get linkName(): string {
    return this.link.description;
  }

  /** Whether the link is up and sealed. */
  get sealed(): boolean {
    return this.channel !== null;
  }

  /** Largest message we may send the peer: the frame limit, less the seal on a sealed link. */
  get sendLimit(): number {
    return Math.min(this.peer?.maxFrame ?? MIN_FRAME_BYTES, this.link.maxFrame) - (this.sealed ? SEAL_OVERHEAD : 0);
  }

  /** The poll budget we ask for: the configured one, within what we accept on this link. */
  get pollBudget(): number {
    const s = this.host.settings;
    return Math.min(s.pollMaxBytes, s.maxFrame, this.link.maxFrame) - (this.sealed ? SEAL_OVERHEAD : 0);
  }

  /** Encode and send a message (sealed once up on a sealed link). */
  send(msg: MessageV2): void {
    this.sendFrame(encodeMessageV2(msg));
  }

  /** Send an `Error`; `scope` (the receiver's number) only for an answer to a scoped message. */
  sendError(reason: ReasonName, text: string, retryAfterMs: number | null, scope?: number): void {
    this.send({ ...errorMessage(reason, text, retryAfterMs), ...(scope === undefined ? {} : { scope }) });
  }

  /** Send one encoded message: sealed once the link is up sealed, else as it is. */
  sendFrame(body: Uint8Array): void {
    if (!this.link.open) return;
    const ch = this.channel;
    if (ch === null) return this.transmit(body);
    let sealed: Uint8Array;
    try {
      sealed = ch.seal(body);
    } catch {
      // Every sequence number used without a completed re-handshake (§7.4): the link must go.
      this.host.log.warn({ peer: this.peerId }, 'sealed sequence numbers used up; closing the link');
      return void this.close(false);
    }
    this.transmit(sealed, body);
    if (ch.rekeyDue) this.handshakes.start('rekey', false);
  }

  /** {@link DriverHost}: send a frame body as it is; `message` is what it carries, for observers. */
  transmit(body: Uint8Array, message: Uint8Array = body): void {
    if (!this.link.open) return;
    this.stats.framesOut++;
    this.stats.bytesOut += body.length;
    this.host.frameOut(this, message, body);
    if (!this.link.send(body)) this.blocked = true;
  }

  /** Count a bad frame of the link; true when this one is answered (§14.2). */
  badFrame(): boolean {
    return this.inbound.badFrame();
  }

  /** {@link SessionV2Like}: bring S's entry in line with its grant to the peer (once up). */
  refresh(scopeId: Uint8Array): void {
    if (this.authenticated && !this.closing) this.scoped.refresh(scopeId);
  }

  /** {@link SessionV2Like}: whether the peer pushes S to us (our subscription is granted). */
  pushesUs(scopeId: Uint8Array): boolean {
    return this.scoped.push.subscriptionOf(scopeId)?.state === 'subscribed';
  }

  /** {@link SessionV2Like}: renew S's subscription (its `via` changed). */
  viaChanged(scopeId: Uint8Array): void {
    if (this.authenticated && !this.closing) this.scoped.push.viaChanged(scopeId);
  }

  /**
   * Close the session and its link; idempotent. A sealed link first gets the sealed close marker
   * (§7.6) unless `marker` is false (the peer closed it, or a pre-up refusal).
   */
  async close(marker = true): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.scoped.stop();
    this.announcer.stop();
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
    if (this.down) return;
    this.down = true;
    this.closing = true;
    this.inbound.stop();
    this.handshakes.stop();
    this.announcer.stop();
    this.scoped.stop();
    this.host.pusher.linkDown(this); // the peer's slots are suspended (§11.3), not removed
    this.host.onDown(this);
  }

  /** {@link DriverHost}: the first handshake accepted the peer's `Hello`. */
  accepted(hs: Handshake): void {
    this.peer = hs.peer;
    this.fp = null;
  }

  /** {@link DriverHost}: the first handshake completed: the link is up; open the granted scopes. */
  up(hs: Handshake): void {
    this.authenticated = true;
    this.link.markAuthenticated?.();
    if (hs.keys !== null) {
      this.channel = new SealedChannel(hs.keys, this.host.settings.rekeyAt, this.host.settings.now);
      this.link.markSealed?.();
    }
    if (!this.host.onUp(this)) return; // the peer's other link won the draw: this one is closing
    this.host.pusher.linkUp(this);
    if (!this.closing) this.scoped.openGranted();
  }

  /** {@link DriverHost}: a re-handshake completed; its keys replace ours, the table and loops are kept. */
  switched(hs: Handshake): void {
    this.peer = hs.peer;
    if (hs.keys !== null && this.channel !== null) this.channel.rekey(hs.keys);
    else if (hs.keys !== null) this.channel = new SealedChannel(hs.keys, this.host.settings.rekeyAt, this.host.settings.now);
    this.stats.rehandshakes++;
    this.host.log.info({ peer: this.peerId, link: this.link.description, sealed: this.sealed }, 're-handshake complete');
  }

  /** A new scope table with its announcer and scoped part, as a new link starts with (§9). */
  private scopeState(): [SessionV2Scoped, ScopeTable, ScopeAnnouncer] {
    const host = this.host;
    const settings = host.settings;
    const scoped = new SessionV2Scoped(host, this, () => new ClientPacer(settings.backoff, settings.random));
    const table = new ScopeTable(scoped);
    const announcer = new ScopeAnnouncer(table, {
      send: (m) => this.send(m),
      closeLink: (reason) => {
        host.log.warn({ peer: this.peerId, link: this.link.description, reason }, 'closing the link');
        void this.close();
      },
    });
    return [scoped, table, announcer];
  }

  /**
   * The peer started its end of this link anew (its `Scopes` came with seq 0 after a re-handshake,
   * §7.5): its tables are empty while ours hold the old numbers both ways. Drop this link's scope
   * state in place — loops, subscriptions, answers, both tables — and start it as on a new link:
   * our granted scopes are opened again and `first`, the peer's first `Scopes`, is applied. The
   * peer's push slots here are suspended until it subscribes again (§11.3).
   */
  restartScopes(first: ScopesMessage): void {
    if (this.closing) return;
    this.tablesStartedAt = this.stats.rehandshakes;
    this.host.log.info({ peer: this.peerId, link: this.link.description }, 'the peer restarted its end of the link: its scope tables start anew');
    this.scoped.stop();
    this.announcer.stop();
    this.host.pusher.linkDown(this);
    [this.scoped, this.table, this.announcer] = this.scopeState();
    this.host.pusher.linkUp(this);
    this.scoped.openGranted();
    this.announcer.onScopes(first);
  }

  /** The watchdog's verdict: `timeouts` polls in a row went unanswered; only a redial can help. */
  private deadLink(timeouts: number): void {
    this.stats.deadLinkCloses++;
    this.host.log.warn({ peer: this.peerId, link: this.link.description, timeouts }, `no poll answered in ${timeouts} tries in a row; closing the link so its transport redials`);
    void this.close();
  }

  /** {@link DriverHost}: count a dropped re-handshake input. */
  dropped(why: string): void {
    this.stats.handshakeDropped++;
    this.host.log.debug({ peer: this.peerId, why }, 're-handshake input dropped');
  }
}
