/**
 * A v2 session's subscriptions and pushes, both roles (protocol-v2.md §11): as responder it hands
 * the peer's `Subscribe` / `Unsubscribe` to the engine's {@link PusherV2} and answers
 * `SubscribeAck` or `Error{MaximumSubscriptionsExceeded, retry_after_ms, scope}`; as subscriber it
 * keeps one {@link ScopeSubscription} per active scope (subscribing after the scope's first
 * completed poll round when the peer announced `Push`) and takes pushes — enveloped or bare, with
 * or without a subscription (§11.9) — into the scope host as commands only.
 *
 * Routing (§9.5): `Subscribe` and `Unsubscribe` name this side's number; `SubscribeAck` and `Push`
 * name this side's number too (the sender's "subscriber's number"). A `Subscribe` whose number
 * does not route is `UnknownScope` (counted as a bad frame, answered at most once per 16); the
 * others are dropped and counted.
 */
import { Capability, MAX_HEADS, MAX_SAMPLE } from '../../protocol/constants.js';
import { ITEM_COMMAND } from '../../protocol/constants-v2.js';
import { cborHeadLength } from '../../protocol/cbor.js';
import { ReasonCode } from '../../protocol/errors.js';
import { toHex } from '../../protocol/keys.js';
import type { Push, Subscribe, SubscribeAck } from '../../protocol/messages-v2.js';
import type { ClientPacer } from './pacing.js';
import type { PushLinkV2 } from './pusher-v2.js';
import type { PeerRef } from './scope-host.js';
import type { ScopePollLoop } from './scope-poll-loop.js';
import { ScopeSubscription } from './scope-subscription.js';
import { scopeKey } from './scope-table.js';
import type { ScopedSession } from './scoped-session.js';
import type { SessionV2Host } from './session-v2-host.js';

/** A `via` list as one comparable string. */
const viaKey = (via: readonly Uint8Array[]): string => via.map(toHex).join(',');

/** After a pushed command that could not be placed, poll within this, ms (§11.8). */
export const REPAIR_POLL_MS = 200;

/** The subscription side of one v2 session. */
export class SessionV2Push {
  private readonly subs = new Map<string, ScopeSubscription>();
  /** The `via` last sent per scope (hex ids joined): a renewal is due only when it would differ. */
  private readonly viaSent = new Map<string, string>();

  constructor(
    private readonly host: SessionV2Host,
    private readonly s: ScopedSession & PushLinkV2,
    private readonly pacer: () => ClientPacer,
    private readonly loopOf: (scopeId: Uint8Array) => ScopePollLoop | undefined,
    private readonly peerRef: () => PeerRef,
  ) {}

  /** The subscription of S on this link, for tests and status. */
  subscriptionOf(scopeId: Uint8Array): ScopeSubscription | undefined {
    return this.subs.get(scopeKey(scopeId));
  }

  /**
   * Our `via` for S changed: a granted or pending subscription asks again now with it (the
   * responder takes the newest `Subscribe`; a `Subscribe` sent before the change carries the old list).
   */
  viaChanged(scopeId: Uint8Array): void {
    const key = scopeKey(scopeId);
    const sub = this.subs.get(key);
    if (sub?.state !== 'subscribed' && sub?.state !== 'pending') return;
    // At most 16 upstreams are listed: past that, a gateway's next grant changes no list and costs no message.
    if (this.viaSent.get(key) !== viaKey(this.host.upstreamsOf(scopeId, this.s))) sub.request();
  }

  /** S became active: a fresh subscription (polling), and a suspended slot of the peer for S resumes. */
  active(scopeId: Uint8Array): void {
    const key = scopeKey(scopeId);
    let sub = this.subs.get(key);
    if (sub === undefined) this.subs.set(key, (sub = this.makeSubscription(scopeId)));
    sub.start();
    this.host.pusher.scopeActive(this.s, scopeId);
  }

  /** S became inactive: no subscription either way (the peer's slot goes at once, §11.3). */
  inactive(scopeId: Uint8Array): void {
    const key = scopeKey(scopeId);
    this.subs.get(key)?.stop();
    this.subs.delete(key);
    this.viaSent.delete(key);
    this.host.pusher.scopeInactive(this.s, scopeId);
  }

  /** The link closed: every subscription stops; the peer's slots are suspended by the engine. */
  stop(): void {
    for (const sub of this.subs.values()) sub.stop();
    this.subs.clear();
    this.viaSent.clear();
  }

  /** A round of S completed on the poll loop. */
  roundCompleted(scopeId: Uint8Array): void {
    this.subs.get(scopeKey(scopeId))?.roundCompleted();
  }

  /** The peer's `Subscribe` for S (routed, S active or pending). */
  onSubscribe(scopeId: Uint8Array, msg: Subscribe): void {
    const s = this.s;
    const h = this.host.hostOf(scopeId);
    const theirs = s.table.theirs.get(scopeKey(scopeId));
    s.stats.subscribesIn++;
    if (h === undefined || theirs === undefined) return; // a join still being set up: the subscriber retries
    const peer = this.peerRef();
    if (!h.grants(peer.publicKey, peer.trusted)) {
      s.stats.notAMember++;
      s.sendError('NotAMember', 'not a member', null, theirs);
      s.table.close(scopeId);
      return s.announcer.flush();
    }
    const r = this.host.pusher.subscribe(s, scopeId, msg);
    if (!r.granted) {
      s.stats.subscribesRefused++;
      return s.sendError('MaximumSubscriptionsExceeded', `all ${r.capacity} subscription slots in use`, r.retryAfterMs, theirs);
    }
    s.send({ type: 'SubscribeAck', scope: theirs, remain_open: r.remainOpenS, max_bytes: r.maxBytes });
  }

  /** The peer's `Unsubscribe` for S: never answered. */
  onUnsubscribe(scopeId: Uint8Array): void {
    this.host.pusher.unsubscribe(this.s, scopeId);
  }

  /** `SubscribeAck` for S. */
  onAck(scopeId: Uint8Array, msg: SubscribeAck): void {
    this.subs.get(scopeKey(scopeId))?.onAck(msg.remain_open, msg.max_bytes);
  }

  /** `Error` codes 5 and 6 naming S go to its subscription; true when `code` was one of them. */
  onError(scopeId: Uint8Array, code: number, retryAfterMs: number | null): boolean {
    const sub = this.subs.get(scopeKey(scopeId));
    if (code === ReasonCode.MaximumSubscriptionsExceeded) sub?.onRefused(retryAfterMs);
    else if (code === ReasonCode.BudgetExhausted) sub?.onBudgetExhausted();
    else return false;
    return true;
  }

  /** A `Push` for S (enveloped or bare): its commands and compact batch, into the scope host; orphans ask for a repair poll. */
  onPush(scopeId: Uint8Array, msg: Push): void {
    const s = this.s;
    s.stats.pushesIn++;
    const sub = this.subs.get(scopeKey(scopeId));
    if (sub === undefined || sub.state !== 'subscribed') s.stats.pushesUnsolicited++;
    const first = msg.commands[0];
    sub?.onPush(msg.remaining, first === undefined ? 0 : first.length + cborHeadLength(msg.scope));
    const cmds = msg.commands.filter((c) => c[0] === ITEM_COMMAND);
    s.stats.pushMalformed += msg.commands.length - cmds.length; // dropped, the others still processed
    const h = this.host.hostOf(scopeId);
    const peer = this.peerRef();
    // A compact batch's commands come after `commands` (PROTOCOL.md §10.7), as in a poll answer.
    const batch = msg.batch ?? undefined;
    if (h === undefined || (cmds.length === 0 && batch === undefined) || !h.grants(peer.publicKey, peer.trusted)) return;
    const bytes = cmds.reduce((n, c) => n + c.length, batch?.length ?? 0);
    // The scope's bound, over all its links (push-intake.ts): a dropped push is repaired by a poll of this link.
    const taken = h.pushIntake.take(`${s.linkId}/${scopeKey(scopeId)}`, bytes, () => h.ingest.receive(cmds, peer.id, 'push', undefined, batch), () => this.loopOf(scopeId)?.pollSoon(REPAIR_POLL_MS));
    if (taken === null) {
      s.stats.pushesDropped++;
      return;
    }
    void taken.then(
      async (r) => {
        this.host.accepted(s, h, r);
        if (r.orphaned > 0) this.loopOf(scopeId)?.pollSoon(REPAIR_POLL_MS);
        await h.retain().catch((err: unknown) => this.host.log.warn({ peer: s.peerId, scope: h.name, err: String(err) }, 'retention after a push failed'));
      },
      (err: unknown) => this.host.log.warn({ peer: s.peerId, scope: h.name, err: String(err) }, 'a push could not be taken in'),
    );
  }

  private makeSubscription(scopeId: Uint8Array): ScopeSubscription {
    const s = this.s;
    const settings = this.host.settings;
    return new ScopeSubscription({
      ask: settings.subscribe,
      get peerPushes() {
        return ((s.peerCaps ?? 0) & Capability.Push) !== 0;
      },
      send: (remainOpenS, maxBytes) => {
        const n = s.table.theirNumber(scopeId);
        const h = this.host.hostOf(scopeId);
        if (n === undefined || h === undefined) return false;
        // §8.6 field 4: the heads (deepest first), then the poll's sample without repeats.
        const req = h.request(s.peerId, { maxBytes: 64 });
        const seen = new Set<string>();
        const sample: Uint8Array[] = [];
        for (const id of [...req.heads.slice(0, MAX_HEADS), ...req.sample]) {
          const hex = toHex(id);
          if (seen.has(hex) || sample.length >= MAX_SAMPLE) continue;
          seen.add(hex);
          sample.push(id);
        }
        const via = this.host.upstreamsOf(scopeId, s);
        this.viaSent.set(scopeKey(scopeId), viaKey(via));
        s.send({ type: 'Subscribe', scope: n, remain_open: remainOpenS, max_bytes: maxBytes, sample, via });
        s.stats.subscribesSent++;
        return true;
      },
      subscribed: (on) => {
        const loop = this.loopOf(scopeId);
        if (loop === undefined) return;
        loop.setSlow(on ? settings.subscribedPollS * 1000 : null);
        // Pushes stopped: back to polling at the responder's pace, not after the anti-entropy wait.
        if (!on) loop.pollSoon(settings.pollHint.minMs);
        this.host.upstreamsChanged(scopeId, s);
      },
    }, this.pacer());
  }
}
