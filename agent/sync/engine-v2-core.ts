/**
 * The v2 engine's parts behind {@link EngineV2} (engine-v2.ts): the sessions, the scope registry
 * and what the sessions ask of it ({@link SessionV2Host}): held, granted (§1.8), joinable (§1.9,
 * bridging the table's synchronous join question to the registry's asynchronous join), each
 * scope's `next_poll_ms` from its own commit rate (§3.9), grant re-evaluation when membership
 * changes or a scope is created or dropped, a gateway's device scopes (§1.9: created for each
 * trusted peer that comes up, then opened toward it), and the (peer, scope) subscription table
 * with its push passes ({@link PusherV2}, protocol-v2.md §11), fed by every append.
 */
import { randomBytes } from 'node:crypto';
import { compareBytes, fingerprint } from '../../protocol/command.js';
import { MAX_VIA } from '../../protocol/constants.js';
import { toHex, type Identity } from '../../protocol/keys.js';
import type { Logger } from '../node/log.js';
import { deviceGenesis, deviceScopeName, wantsDeviceScope, type DeviceScopesConfig } from './device-scope.js';
import type { PeerRejected, PollAnswered } from './engine-events.js';
import type { EngineSettings } from './engine-settings.js';
import { CommitRate, type TokenBucket } from './pacing.js';
import { PeerBucketsV2 } from './peer-buckets-v2.js';
import { PeerLinksV2 } from './peer-links-v2.js';
import { PollQueueV2 } from './poll-queue-v2.js';
import { PusherV2 } from './pusher-v2.js';
import type { ScopeHost } from './scope-host.js';
import type { ScopeRegistry } from './scope-registry.js';
import type { JoinVerdict } from './scope-table.js';
import type { AcceptedReport, SessionV2Host, SessionV2Like } from './session-v2-host.js';
import type { KeyDirectory } from './trust.js';

/** A version refusal of one peer key is logged at warn at most this often (§3.1), ms. */
export const VERSION_LOG_EVERY_MS = 10 * 60_000;

/** What the core tells the facade. */
export interface CoreEvents {
  up(s: SessionV2Like): void;
  down(s: SessionV2Like): void;
  rejected(info: PeerRejected): void;
  frameOut(s: SessionV2Like, message: Uint8Array, wire: Uint8Array): void;
  /** A poll answer was taken in (the facade's `poll-answer` event); optional: a facade may not listen. */
  answered?(a: PollAnswered): void;
}

/** A join accepted by the table whose scope host is still being set up. */
interface PendingJoin {
  name: string;
  from: Uint8Array;
  done: Promise<ScopeHost | undefined>;
}

/** The v2 engine's state and the sessions' view of it. */
export class EngineV2Core implements SessionV2Host {
  readonly sessions = new Set<SessionV2Like>();
  /** The one up session of each peer: §7.1 one link per peer. */
  private readonly links: PeerLinksV2;
  /** Joined scopes rejected by their first answer (§1.9 `scopeJoinsRejected`). */
  joinsRejected = 0;
  private readonly joins = new Map<string, PendingJoin>();
  private readonly creating = new Set<string>();
  private readonly rates = new Map<string, CommitRate>();
  private readonly versionLogged = new Map<string, number>();
  private registry!: ScopeRegistry;
  /** Subscriptions of peers to this host's scopes, and the pushes to them. */
  readonly pusher: PusherV2;
  /** Polls waiting for an answer, round-robin over (link, scope) (§13.2). */
  readonly polls = new PollQueueV2();
  private readonly buckets: PeerBucketsV2;

  /** @throws SubscriptionCapacityError when `settings.subscriptionCapacity` is not a power of two. */
  constructor(
    readonly identity: Identity,
    readonly settings: EngineSettings,
    readonly log: Logger,
    readonly keys: KeyDirectory,
    private readonly deviceScopes: DeviceScopesConfig | undefined,
    private readonly events: CoreEvents,
  ) {
    this.pusher = new PusherV2({
      capacity: settings.subscriptionCapacity,
      maxRemainOpenS: settings.maxRemainOpenS,
      now: settings.now,
      storeOf: (id) => this.registry.byId(id)?.store,
    });
    this.links = new PeerLinksV2(log);
    this.buckets = new PeerBucketsV2(settings.pollBucket.capacity, settings.pollBucket.perSecond, settings.now);
  }

  /** Set once the registry is open (it needs the core's scope events first). */
  bind(registry: ScopeRegistry): void {
    this.registry = registry;
  }

  get scopes(): ScopeRegistry {
    return this.registry;
  }

  admits(publicKey: Uint8Array): boolean {
    return compareBytes(publicKey, this.identity.publicKey) === 0 || this.keys.admits(publicKey);
  }

  onRejected(info: PeerRejected): void {
    this.events.rejected(info);
  }

  versionLogDue(publicKeyHex: string): boolean {
    const now = this.settings.now();
    const last = this.versionLogged.get(publicKeyHex);
    if (last !== undefined && now - last < VERSION_LOG_EVERY_MS) return false;
    this.versionLogged.set(publicKeyHex, now);
    return true;
  }

  holds(scopeId: Uint8Array): boolean {
    return this.registry.byId(scopeId) !== undefined || this.joins.has(toHex(scopeId));
  }

  grants(scopeId: Uint8Array, peerKey: Uint8Array): boolean {
    const h = this.registry.byId(scopeId);
    if (h !== undefined) return h.grants(peerKey, this.admits(peerKey));
    const j = this.joins.get(toHex(scopeId));
    return j !== undefined && compareBytes(j.from, peerKey) === 0;
  }

  join(scopeId: Uint8Array, name: string, from: Uint8Array): JoinVerdict {
    const hex = toHex(scopeId);
    if ([...this.joins.values()].some((j) => j.name === name)) return 'declined';
    if (this.registry.size + this.joins.size >= this.registry.max) return 'full';
    const v = this.registry.joinVerdict(name, scopeId);
    if (!v.ok) return v.reason === 'TooManyScopes' ? 'full' : 'declined';
    const done = this.registry.join(name, scopeId, from).then(
      (r) => (r.ok ? r.host : undefined),
      (err: unknown) => {
        this.log.warn({ scope: name, err: String(err) }, 'joining a scope failed');
        return undefined;
      },
    );
    this.joins.set(hex, { name, from: from.slice(), done });
    void done.then((h) => {
      this.joins.delete(hex);
      if (h === undefined) this.refreshAll(scopeId); // never held: close it toward the peer
      else this.log.info({ scope: name, peer: toHex(from).slice(0, 16) }, 'joining a scope');
    });
    return 'joined';
  }

  hostOf(scopeId: Uint8Array): ScopeHost | undefined {
    return this.registry.byId(scopeId);
  }

  whenHeld(scopeId: Uint8Array): Promise<ScopeHost | undefined> {
    const h = this.registry.byId(scopeId);
    if (h !== undefined) return Promise.resolve(h);
    return this.joins.get(toHex(scopeId))?.done ?? Promise.resolve(undefined);
  }

  held(): ScopeHost[] {
    return this.registry.list();
  }

  upstreamsOf(scopeId: Uint8Array, except: SessionV2Like): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const s of this.sessions) {
      if (s === except || s.peerKey === null || !s.pushesUs(scopeId)) continue;
      if (out.length === MAX_VIA) break;
      out.push(fingerprint(s.peerKey));
    }
    return out;
  }

  upstreamsChanged(scopeId: Uint8Array, from: SessionV2Like): void {
    for (const s of this.sessions) if (s !== from) s.viaChanged(scopeId);
  }

  bucketOf(peerId: string): TokenBucket {
    return this.buckets.of(peerId);
  }

  hintMs(host: ScopeHost): number {
    const up = [...this.sessions].filter((s) => s.authenticated).length;
    return this.rateOf(host).hintMs(up / 16, this.settings.now());
  }

  /** Commands were appended to `host` from `from` (a peer id, or 'local'): its commit rate counts them; subscribers get them pushed. */
  appended(host: ScopeHost, handles: readonly number[], from: string): void {
    this.rateOf(host).record(handles.length, this.settings.now());
    this.pusher.appended(host.key, handles, from);
  }

  /** §7.1 one link per peer ({@link PeerLinksV2}); then the up event and a gateway's device scope. */
  onUp(s: SessionV2Like): boolean {
    if (!this.links.up(s)) return false;
    this.events.up(s);
    if (s.peerKey !== null) this.deviceScopeOf(s.peerKey);
    return true;
  }

  /** §1.9: a gateway creates the device scope of a trusted peer that comes up, when it wants one. */
  private deviceScopeOf(key: Uint8Array): void {
    const cfg = this.deviceScopes;
    if (cfg === undefined) return;
    const taken = (name: string): boolean => this.registry.byName(name) !== undefined || this.creating.has(name);
    if (!wantsDeviceScope(cfg, this.identity.publicKey, key, taken)) return;
    const name = deviceScopeName(key);
    this.creating.add(name);
    void this.registry
      .create(deviceGenesis(cfg, this.identity, key, (n) => new Uint8Array(randomBytes(n))))
      .then((v) => {
        if (!v.ok) return this.log.warn({ scope: name, reason: v.reason, detail: v.detail }, 'device scope not created');
        this.log.info({ scope: name, id: toHex(v.host.id) }, 'device scope created');
        this.refreshAll(v.host.id);
      })
      .catch((err: unknown) => this.log.warn({ scope: name, err: String(err) }, 'device scope not created'))
      .finally(() => this.creating.delete(name));
  }

  onDown(s: SessionV2Like): void {
    const had = this.sessions.delete(s);
    if (s.peerKey === null) return;
    if (!this.links.down(s)) return; // a dropped second link: the kept one goes on
    // The per-peer answer cursors and requester states are the peer's, not the link's: forgotten
    // only when the peer's last link goes.
    for (const h of this.held()) h.forget(s.peerId);
    if (had) this.events.down(s);
  }

  accepted(s: SessionV2Like, host: ScopeHost, result: AcceptedReport): void {
    const refused = result.joinRefused;
    if (refused === undefined) {
      // Only a poll answer carries `total` (a push's result has none): bootstrap progress follows these.
      if (result.total !== undefined && result.more !== undefined && result.refused === undefined) {
        this.events.answered?.({ peer: s.peerId, scope: host.name, scopeId: host.key, total: result.total, more: result.more, commands: result.appended.length, bytes: result.bytes ?? 0 });
      }
      return;
    }
    // §1.9: a joined scope whose first command is not its genesis is dropped and closed.
    this.joinsRejected++;
    this.log.warn({ peer: s.peerId, scope: host.name, reason: refused.reason, detail: refused.detail }, 'join refused: dropping the scope');
    void this.registry.drop(host); // forgets the scope at once, then closes its store
    this.refreshAll(host.id);
  }

  frameOut(s: SessionV2Like, message: Uint8Array, wire: Uint8Array): void {
    this.events.frameOut(s, message, wire);
  }

  /** Sender rule 1 on every session for S (a scope created, dropped, or its membership changed). */
  refreshAll(scopeId: Uint8Array): void {
    for (const s of this.sessions) s.refresh(scopeId);
  }

  private rateOf(host: ScopeHost): CommitRate {
    let r = this.rates.get(host.key);
    if (r === undefined) this.rates.set(host.key, (r = new CommitRate(this.settings.pollHint, this.settings.now())));
    return r;
  }
}
