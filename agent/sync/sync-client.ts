/**
 * The requester side of a session: poll until nothing is missing, subscribe for pushes, renew
 * before expiry and on `BudgetExhausted`, repair gaps a lost push left, and obey every pacing
 * hint with jitter and backoff. One poll is in flight at a time per peer; nothing spins.
 */
import { MAX_HEADS, MAX_SAMPLE, MAX_VIA } from '../../protocol/constants.js';
import { ReasonCode } from '../../protocol/errors.js';
import { fromHex } from '../../protocol/keys.js';
import { encodeMessage } from '../../protocol/envelope.js';
import { sha256 } from '../../protocol/command.js';
import type { PollResponse, Push } from '../../protocol/messages.js';
import { deepestFirst, sampleOf } from './graph-walk.js';
import type { ClientPacer } from './pacing.js';
import { PollShaper } from './poll-shaper.js';
import type { PeerSession } from './peer-session.js';
import { equalBytes } from '../../protocol/bytes.js';
import { SEAL_OVERHEAD } from '../../protocol/seal.js';

const REPAIR_DELAY_MS = 200;

import type { RequesterSnapshot } from './requester-snapshot.js';

/** What {@link SyncClient.snapshot} reports. */
export type SyncClientSnapshot = RequesterSnapshot;

/** Requester state for one peer. */
export class SyncClient {
  subscribed = false;
  /** The peer refused our subscription (table full); until it grants one we only poll it. */
  refused = false;
  /** Push budget we believe is left. */
  remaining = 0;
  private session = Math.floor(Math.random() * 0x7fffffff);
  private inFlight: number | null = null;
  private answered: number | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private subTimer: NodeJS.Timeout | null = null;
  /** Peer cache: the heads the peer last reported (sent back as the first sample entries). */
  private peerHeads: Uint8Array[] = [];
  private waiters: (() => void)[] = [];
  private shaper: PollShaper | null = null;
  /** Answers received whose commands are still being verified or applied. */
  private backlog = 0;
  /** Id of the last command of the newest answer (named as held by a pipelined poll). */
  private frontier: Uint8Array | null = null;
  /** The newest answer said `more`. */
  private morePending = false;
  /** Polls timed out in a row. */
  private timeouts = 0;
  /** Orphans seen since the round began: the round ends with a repair poll when any were. */
  private roundOrphans = 0;
  private sentAt = 0;
  private requestBytes = 0;
  /** `remain_open` of the Subscribe in flight, or null when none is (an unrequested ack is ignored). */
  private subscribing: number | null = null;
  private stopped = true;
  /** Polls completed with nothing left (`more` false). */
  rounds = 0;
  /** Epoch ms of the last completed sync: an answer with `more` false, or a push, applied. */
  lastSyncMs: number | null = null;
  /** `total` of the peer's last poll answer (commands it held), null before any. */
  peerTotal: number | null = null;

  constructor(
    private readonly s: PeerSession,
    private readonly pacer: ClientPacer,
  ) {}

  /**
   * Begin with a poll; once a round finds nothing missing, subscribe (when the peer pushes and
   * we want pushes), so a bootstrap is never sent twice, by poll and by push.
   */
  start(): void {
    this.stopped = false;
    this.pollNow();
  }

  /** Stop every timer; forget the subscription. */
  stop(): void {
    this.stopped = true;
    for (const t of [this.pollTimer, this.timeoutTimer, this.renewTimer, this.subTimer]) if (t) clearTimeout(t);
    this.pollTimer = this.timeoutTimer = this.renewTimer = this.subTimer = null;
    this.inFlight = null;
    this.subscribed = false;
    this.subscribing = null;
    // A restarted handshake starts this client again: its first round must subscribe again.
    this.rounds = 0;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves after the next poll round that ends with nothing missing (or when stopped). */
  syncOnce(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.pollNow();
    });
  }

  /** A point-in-time view of the requester state (for `status` and diagnostics). */
  snapshot(): SyncClientSnapshot {
    return {
      stopped: this.stopped,
      subscribed: this.subscribed,
      refused: this.refused,
      rounds: this.rounds,
      pollInFlight: this.inFlight !== null,
      pollScheduled: this.pollTimer !== null,
      timeoutsInARow: this.timeouts,
      backlog: this.backlog,
      morePending: this.morePending,
      budget: this.shaper?.budget ?? null,
    };
  }

  /** Send a poll now unless one is in flight. */
  pollNow(): void {
    if (this.stopped || this.inFlight !== null) return;
    this.clearPollTimer();
    const e = this.s.engine;
    const store = e.store;
    // An answer must fit our frame limit once sealed: the budget counts message bytes (§7.1).
    const room = Math.min(e.settings.maxFrame, this.s.link.maxFrame) - (this.s.sealed ? SEAL_OVERHEAD : 0);
    const shaper = (this.shaper ??= new PollShaper(Math.min(e.settings.pollMaxBytes, room), e.settings.pollTimeoutMs, e.settings.pollTimeoutMsPerByte, room));
    const heads = deepestFirst(store, store.heads(), shaper.headsCap);
    const preferred = this.peerHeads.map((id) => store.indexOf(id)).filter((h) => h >= 0);
    const headSet = new Set(heads);
    const sample = sampleOf(store, MAX_SAMPLE + heads.length, preferred).filter((h) => !headSet.has(h)).slice(0, shaper.sampleCap);
    const headIds: Uint8Array[] = heads.map((h) => Uint8Array.from(store.idOf(h)));
    // Within a round the last command of the newest answer is named as held — before it is
    // verified (pipelining) and after, when it need not be among our deepest heads (a device's
    // commands, say, while other writers' heads are deeper) — so the responder continues from
    // where it stopped instead of resending what did not fit in our heads.
    if (this.frontier !== null && !headIds.some((id) => equalBytes(id, this.frontier!))) headIds.splice(Math.max(0, shaper.headsCap - 1), headIds.length, this.frontier);
    this.session = (this.session + 1) >>> 0;
    this.inFlight = this.session;
    const body = encodeMessage({
      type: 'PollRequest',
      session: this.session,
      max_bytes: shaper.budget,
      heads: headIds,
      sample: sample.map((h) => Uint8Array.from(store.idOf(h))),
    });
    this.requestBytes = body.length;
    this.sentAt = performance.now();
    this.s.sendFrame(body);
    this.timeoutTimer = setTimeout(() => {
      this.inFlight = null;
      const dead = e.settings.deadAfterTimeouts;
      if (dead > 0 && ++this.timeouts >= dead) {
        e.log.warn({ peer: this.s.peerId, link: this.s.link.description, timeouts: this.timeouts }, 'peer answers no polls; closing the link');
        void this.s.close();
        return;
      }
      shaper.timedOut();
      e.log.debug({ peer: this.s.peerId, budget: shaper.budget }, 'poll timed out');
      this.schedulePoll(this.pacer.afterTimeout());
    }, shaper.timeoutMs(body.length));
    this.timeoutTimer.unref();
  }

  /**
   * A poll answer arrived; `bytes` is its encoded size. While `more` is set the next poll goes
   * out at once — before this answer is verified — unless an earlier answer is still being
   * verified too: at most two answers are ever held, whatever the link's speed.
   */
  onPollResponse(res: PollResponse, bytes: number): void {
    // Ignore a stale answer to a timed-out poll, and a duplicated frame of one already handled.
    if (res.session !== this.inFlight || res.session === this.answered) return;
    this.answered = res.session;
    this.inFlight = null;
    this.timeouts = 0;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.pacer.succeeded();
    this.shaper?.answered(performance.now() - this.sentAt, this.requestBytes + bytes);
    // The next command did not fit: raise the budget, past the configured maximum if need be (§8.2).
    if (res.more && res.commands.length === 0) this.shaper?.fitNothing();
    if (res.heads.length > 0) this.peerHeads = res.heads;
    const e = this.s.engine;
    const last = res.commands[res.commands.length - 1];
    if (last !== undefined) this.frontier = sha256(last);
    this.backlog++;
    this.peerTotal = res.total;
    const arrivedAt = this.s.frameArrivedAt;
    const applied = e.ingest.receive(res.commands, this.s.peerId, 'poll');
    // After receive() queued the batch, so an observer awaiting ingest.idle() sees it applied.
    e.emit('poll-answer', this.s.peerId, { commands: res.commands.length, more: res.more, total: res.total, nextPollMs: res.next_poll_ms });
    this.morePending = res.more;
    if (res.more && this.backlog < 2) this.pollNow();
    void applied.then((r) => {
      this.backlog--;
      if (res.commands.length > 0) e.latency.apply.observe(performance.now() - arrivedAt);
      if (!res.more) this.lastSyncMs = e.settings.now();
      this.roundOrphans += r.orphaned;
      if (this.stopped) return;
      if (res.more) {
        if (this.morePending) this.pollNow(); // no-op when the pipelined poll is already out
        return;
      }
      if (this.backlog > 0) return; // a newer answer is still being applied; it ends the round
      this.frontier = null;
      const orphans = this.roundOrphans;
      this.roundOrphans = 0;
      if (orphans > 0) return this.schedulePoll(this.pacer.afterFailure());
      this.rounds++;
      if (this.rounds === 1 && this.wantsPush()) this.subscribe();
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
      const anti = e.settings.subscribedPollS * 1000;
      this.schedulePoll(this.pacer.afterSuccess(this.subscribed ? Math.max(anti, res.next_poll_ms) : res.next_poll_ms));
    });
  }

  /** A push arrived. */
  onPush(p: Push): void {
    if (p.remaining === null) this.remaining -= p.commands[0]?.length ?? 0;
    else this.remaining = p.remaining;
    const e = this.s.engine;
    const arrivedAt = this.s.frameArrivedAt;
    void e.ingest.receive(p.commands, this.s.peerId, 'push').then((r) => {
      e.latency.apply.observe(performance.now() - arrivedAt);
      this.lastSyncMs = e.settings.now();
      // A push whose parents we lack means an earlier push was lost: repair by polling, after
      // a short wait in case the parent is still on its way from another peer.
      if (r.orphaned > 0 && !this.stopped) this.schedulePoll(REPAIR_DELAY_MS);
    });
  }

  /** The peer granted our subscription. */
  onSubscribeAck(granted: number, maxBytes: number): void {
    if (this.subscribing === null) return; // not asked for: a confused or hostile peer
    // Never trust the peer's figure beyond what we asked: it sets our renewal timer.
    const remainOpen = Math.min(granted, this.subscribing);
    this.subscribing = null;
    const was = this.upstream;
    const wasSubscribed = this.subscribed;
    this.subscribed = true;
    this.refused = false;
    this.remaining = maxBytes;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => this.subscribe(), Math.max(1000, remainOpen * 800));
    this.renewTimer.unref();
    if (!was) this.upstreamsChanged();
    // The poll after the first round was scheduled at the unsubscribed pace; pushes now carry
    // new commands, so the next poll is only the slow anti-entropy one.
    if (!wasSubscribed && this.inFlight === null && this.backlog === 0) {
      this.schedulePoll(this.pacer.afterSuccess(this.s.engine.settings.subscribedPollS * 1000));
    }
  }

  /**
   * Whether this peer pushes to us, or will as soon as our first poll round ends: such peers are
   * named in `via` so other agents do not relay to us what this one sends anyway.
   */
  get upstream(): boolean {
    return !this.stopped && this.wantsPush() && !this.refused;
  }

  /** The peer sent an error. */
  onError(code: number, retryAfterMs: number | null): void {
    const retry = retryAfterMs ?? 0;
    switch (code) {
      case ReasonCode.BudgetExhausted:
        this.subscribed = false;
        this.subscribe();
        return;
      case ReasonCode.Unauthorized:
        // A refused peer closes the link; short of that this is our Auth still on its way.
        this.subscribing = null;
        if (this.inFlight !== null) this.fail(retry);
        return;
      case ReasonCode.MaximumSubscriptionsExceeded:
        this.subscribed = false;
        this.refused = true;
        this.upstreamsChanged();
        this.subscribeLater(this.pacer.afterFailure(retry));
        this.schedulePoll(Math.min(retry || 1000, 60000));
        return;
      case ReasonCode.Busy:
        this.fail(retry);
        return;
      case ReasonCode.UnsupportedVersion:
        // The peer cannot talk to us; it closes the link, and the transport decides whether to redial.
        this.stop();
        return;
      default:
        if (this.inFlight !== null) this.fail(retry);
    }
  }

  /** The poll in flight failed: back off and poll again. */
  private fail(retryAfterMs: number): void {
    this.inFlight = null;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.schedulePoll(this.pacer.afterFailure(retryAfterMs));
  }

  /**
   * A re-handshake completed (PROTOCOL.md §7.5): the peer may have restarted, losing our
   * subscription and the poll in flight. Poll again now if one was out (its answer, if it still
   * comes, is stale and ignored), and renew the subscription soon.
   */
  relinked(): void {
    if (this.stopped) return;
    if (this.inFlight !== null) {
      this.inFlight = null;
      if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
      this.pollNow();
    }
    this.resubscribeSoon();
  }

  /** Our set of upstreams changed: re-send Subscribe (debounced) so `via` stays true. */
  resubscribeSoon(): void {
    if (!this.wantsPush() || this.stopped || this.rounds === 0) return;
    this.subscribeLater(50);
  }

  private wantsPush(): boolean {
    return this.s.engine.settings.subscribe !== false && (this.s.peerCaps & 1) !== 0;
  }

  private subscribe(): void {
    const e = this.s.engine;
    const want = e.settings.subscribe;
    if (this.stopped || want === false) return;
    const store = e.store;
    const heads = deepestFirst(store, store.heads(), MAX_HEADS);
    const sample = [...new Set([...heads, ...sampleOf(store, MAX_SAMPLE)])].slice(0, MAX_SAMPLE);
    const via = e
      .upstreams()
      .filter((id) => id !== this.s.peerId)
      .slice(0, MAX_VIA)
      .map(fromHex);
    this.subscribing = want.remainOpenS;
    this.s.send({
      type: 'Subscribe',
      remain_open: want.remainOpenS,
      max_bytes: want.maxBytes,
      sample: sample.map((h) => Uint8Array.from(store.idOf(h))),
      via,
    });
  }

  private upstreamsChanged(): void {
    for (const other of this.s.engine.sessions.values()) if (other !== this.s) other.viaChanged();
  }

  private schedulePoll(ms: number): void {
    if (this.stopped) return;
    this.clearPollTimer();
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.pollNow();
    }, ms);
    this.pollTimer.unref();
  }

  private clearPollTimer(): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  /** (Re)send Subscribe after `ms`; a newer call replaces an older one (debounce). */
  private subscribeLater(ms: number): void {
    if (this.subTimer) clearTimeout(this.subTimer);
    this.subTimer = setTimeout(() => {
      this.subTimer = null;
      this.subscribe();
    }, ms);
    this.subTimer.unref();
  }
}
