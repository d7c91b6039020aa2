/**
 * A v2 session's scopes (docs/design/v2-scopes.md §3.3, §3.10; protocol-v2.md §9–§11): the host
 * of its {@link ScopeTable} (held, granted and join questions go to the engine), routing of every
 * scoped message by number, the answers to the peer's polls, one {@link ScopePollLoop} per
 * active scope, and its subscriptions and pushes ({@link SessionV2Push}).
 *
 * - `PollRequest` whose number routes → the engine's poll queue and the peer's token bucket
 *   ({@link SessionV2Answers}: `PollResponse`, `Busy`, or `Error{NotAMember}` and S closed toward
 *   the peer when it is no longer granted); a number that does not route → `Error{UnknownScope,
 *   scope: the number as received}`, counted as a bad frame and answered at most once per 16
 *   (§9.5). `Subscribe` likewise.
 * - `PollResponse` → that scope's loop; `Error` with a scope → that scope's subscription (codes 5
 *   and 6) or loop (backs off).
 * - `Unsubscribe`, `SubscribeAck`, `Push` → the push side; one that does not route is dropped and
 *   counted.
 */
import type { MessageV2 } from '../../protocol/messages-v2.js';
import { ReasonCode } from '../../protocol/errors.js';
import type { ClientPacer } from './pacing.js';
import type { PeerRef } from './scope-host.js';
import type { ScopePollLoop } from './scope-poll-loop.js';
import type { PushLinkV2 } from './pusher-v2.js';
import type { ScopedSession } from './scoped-session.js';
import { SessionV2Answers } from './session-v2-answer.js';
import { SessionV2Push } from './session-v2-push.js';
import { makeSessionLoop } from './session-v2-loop.js';
import { scopeKey, type JoinVerdict, type ScopeCounter, type ScopeTableHost } from './scope-table.js';
import type { SessionV2Host } from './session-v2-host.js';

export type { ScopedSession } from './scoped-session.js';

/** The scope table host, router and poll loops of one v2 session. */
export class SessionV2Scoped implements ScopeTableHost {
  private readonly loops = new Map<string, ScopePollLoop>();
  readonly push: SessionV2Push;
  private readonly answers: SessionV2Answers;

  constructor(
    private readonly host: SessionV2Host,
    private readonly s: ScopedSession & PushLinkV2,
    private readonly pacer: () => ClientPacer,
  ) {
    this.push = new SessionV2Push(host, s, pacer, (id) => this.loops.get(scopeKey(id)), () => this.peerRef());
    this.answers = new SessionV2Answers(host, s, () => this.peerRef(), (n) => this.unknownScope(n));
  }

  /** The link is up: open every held scope granted to the peer (one `Scopes`, rule 4). */
  openGranted(): void {
    for (const h of this.host.held()) if (this.grants(h.id)) this.open(h.id, h.name);
    this.s.announcer.flush();
  }

  /** Sender rule 1 for S now: open when granted and not opened (or closed by us), close when not granted. */
  refresh(scopeId: Uint8Array): void {
    const own = this.s.table.ownState(scopeKey(scopeId));
    const granted = this.host.holds(scopeId) && this.grants(scopeId);
    const h = this.host.hostOf(scopeId);
    if (granted && h !== undefined && (own === undefined || own === 'closed')) this.open(scopeId, h.name);
    else if (!granted && (own === 'pending' || own === 'open')) this.s.table.close(scopeId);
    this.s.announcer.flush();
  }

  /** The link closed: every loop stops. */
  stop(): void {
    for (const l of this.loops.values()) l.stop();
    this.loops.clear();
    this.push.stop();
    this.answers.stop();
  }

  /** The loop of S, for tests and status. */
  loopOf(scopeId: Uint8Array): ScopePollLoop | undefined {
    return this.loops.get(scopeKey(scopeId));
  }

  /** A message other than `Hello`, `Auth`, `Scopes`, `ScopesAck`, on an up link. */
  handle(msg: MessageV2): void {
    const t = this.s.table;
    switch (msg.type) {
      case 'PollRequest':
        return this.answers.onPoll(msg);
      case 'PollResponse': {
        const id = t.scopeOfMine(msg.scope);
        const loop = id === undefined ? undefined : this.loops.get(scopeKey(id));
        if (loop === undefined) return void this.s.stats.unknownScope++; // dropped, never answered
        return loop.onResponse(msg);
      }
      case 'Subscribe': {
        const id = t.scopeOfMine(msg.scope);
        return id === undefined ? this.unknownScope(msg.scope) : this.push.onSubscribe(id, msg);
      }
      case 'Push':
      case 'Unsubscribe':
      case 'SubscribeAck': {
        const id = t.scopeOfMine(msg.scope);
        if (id === undefined) return void this.s.stats.unknownScope++; // dropped, never answered
        if (msg.type === 'Push') return this.push.onPush(id, msg);
        return msg.type === 'SubscribeAck' ? this.push.onAck(id, msg) : this.push.onUnsubscribe(id);
      }
      case 'Error':
        return this.onError(msg.code, msg.message, msg.retry_after_ms, msg.scope ?? null);
      default:
        return; // Hello, Auth, Scopes, ScopesAck are routed before this
    }
  }

  // ScopeTableHost

  holds(scopeId: Uint8Array): boolean {
    return this.host.holds(scopeId);
  }

  grants(scopeId: Uint8Array): boolean {
    const key = this.s.peerKey;
    return key !== null && this.host.grants(scopeId, key);
  }

  join(scopeId: Uint8Array, name: string): JoinVerdict {
    const key = this.s.peerKey;
    return key === null ? 'declined' : this.host.join(scopeId, name, key);
  }

  onActive(scopeId: Uint8Array): void {
    const key = scopeKey(scopeId);
    let loop = this.loops.get(key);
    if (loop === undefined) this.loops.set(key, (loop = this.makeLoop(scopeId)));
    const l = loop;
    this.push.active(scopeId);
    if (this.host.hostOf(scopeId) !== undefined) return l.start();
    // A join still being set up: poll once its host exists, if S is still active with this loop.
    void this.host.whenHeld(scopeId).then((h) => {
      if (h !== undefined && this.loops.get(key) === l && this.s.table.active(scopeId)) l.start();
    });
  }

  onInactive(scopeId: Uint8Array): void {
    const key = scopeKey(scopeId);
    this.loops.get(key)?.stop();
    this.loops.delete(key);
    this.push.inactive(scopeId);
    this.host.hostOf(scopeId)?.forget(this.s.peerId);
  }

  onRefused(scopeId: Uint8Array, name: string, reason: string | number): void {
    this.host.log.info({ peer: this.s.peerId, scope: name, reason }, 'peer refused a scope');
  }

  count(what: ScopeCounter): void {
    this.s.stats.table[what]++;
  }

  private open(scopeId: Uint8Array, name: string): void {
    if (this.s.table.open(scopeId, name)) return;
    // Every number of the link used (§9.3 rule 2, decision 18): a new link starts with fresh
    // tables. `Closed` tells the peer why before the link goes (it redials).
    this.host.log.warn({ peer: this.s.peerId }, 'scope numbers of the link used up; closing it');
    this.s.sendError('Closed', 'all 65,536 scope numbers of this link are used: redial', null);
    void this.s.close();
  }

  private peerRef(): PeerRef {
    const key = this.s.peerKey!;
    return { id: this.s.peerId, publicKey: key, trusted: this.host.admits(key) };
  }

  private unknownScope(n: number): void {
    this.s.stats.unknownScope++;
    if (this.s.badFrame()) this.s.sendError('UnknownScope', `unknown scope ${n}`, null, n);
  }

  private onError(code: number, text: string, retryAfterMs: number | null, scope: number | null): void {
    const s = this.s;
    s.stats.errorsIn++;
    // Code 15 names the number as we sent it (our `theirs` number); every other one names ours.
    const id = scope === null ? undefined : code === ReasonCode.UnknownScope ? s.table.theirScopes.get(scope) : s.table.scopeOfMine(scope);
    const loop = id === undefined ? undefined : this.loops.get(scopeKey(id));
    this.host.log.debug({ peer: s.peerId, code, message: text, scope }, 'peer sent error');
    if (id !== undefined && this.push.onError(id, code, retryAfterMs)) return; // a subscription's, not a poll's
    if (loop === undefined) return;
    // NotAMember: nothing more until S is active again under a new entry (the peer's close follows).
    if (code === ReasonCode.NotAMember) return loop.stop();
    loop.onError(retryAfterMs);
  }

  private makeLoop(scopeId: Uint8Array): ScopePollLoop {
    return makeSessionLoop(this.host, this.s, this.pacer, this.push, () => this.peerRef(), scopeId);
  }
}
