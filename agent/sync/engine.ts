/**
 * The engine: one agent's command graph and everything that keeps it in sync with peers. A
 * facade — `commit`, `attach`, `close`, `setTrust`, `snapshot()` and its events — over the parts
 * in `engine-core.ts` (sessions, ingest, poll queue, pusher, trust), none of which it exposes. It
 * talks to the outside only through {@link Link}s.
 */
import { EventEmitter } from 'node:events';
import { encodeCommand } from '../../protocol/command.js';
import { MAX_PARENTS } from '../../protocol/constants.js';
import { toHex, type Identity } from '../../protocol/keys.js';
import type { Link } from '../link.js';
import type { Logger } from '../node/log.js';
import type { CommandStore } from '../store/command-store.js';
import { EngineCore } from './engine-core.js';
import { EngineClosedError } from './engine-errors.js';
import type { EngineEvents, TrustChange } from './engine-events.js';
import { resolveSettings, type EngineOptions } from './engine-settings.js';
import type { EngineSnapshot, PeerSnapshot } from './engine-snapshot.js';
import { deepestFirst } from './graph-walk.js';
import type { PeerSession } from './peer-session.js';
import type { TrustMode } from './trust.js';

export type { Logger } from '../node/log.js';
export { EngineClosedError } from './engine-errors.js';
export type { EngineEvents, PeerRejected, PollAnswer, TrustChange } from './engine-events.js';
export { ENGINE_DEFAULTS, type EngineOptions, type EngineSettings } from './engine-settings.js';
export type { EngineSnapshot, PeerSnapshot } from './engine-snapshot.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The sync engine. */
export class Engine extends EventEmitter<EngineEvents> {
  readonly identity: Identity;
  readonly store: CommandStore;
  private readonly core: EngineCore;
  private nextSeq: number;
  private closed = false;

  /** @throws SubscriptionCapacityError for a subscription capacity that is not a power of two. */
  constructor(opts: EngineOptions) {
    super();
    this.identity = opts.identity;
    this.store = opts.store;
    this.core = new EngineCore({
      identity: opts.identity,
      store: opts.store,
      settings: resolveSettings(opts),
      log: opts.logger ?? silent,
      trust: opts.trust ?? { mode: 'list', keys: [] },
      events: this,
    });
    this.nextSeq = this.lastOwnSeq() + 1;
  }

  /** This agent's peer id (16 hex chars). */
  get peerId(): string {
    return this.identity.peerId;
  }

  /**
   * Create, sign and store a command whose parents are the current heads (up to 16, deepest
   * first: one command merges several heads). Resolves with its id once it is as durable as the
   * store's durability promises; subscribers are pushed once its record is in the log.
   * @throws StoreWriteError when the record could not be written (a full disk): the command is
   *   then not in the graph, not pushed, and its seq is used again by the next commit.
   * @throws EngineClosedError after close().
   */
  async commit(payload: Uint8Array): Promise<Uint8Array> {
    if (this.closed) throw new EngineClosedError();
    const parents = deepestFirst(this.store, this.store.heads(), MAX_PARENTS).map((h) => Uint8Array.from(this.store.idOf(h)));
    const seq = this.nextSeq;
    const cmd = encodeCommand({ parents, author: this.identity.author, seq, payload }, this.identity.sign);
    let h: number;
    try {
      h = this.store.appendWritten(cmd);
    } catch (err) {
      this.core.log.error({ err: (err as Error).message, reason: (err as { reason?: string }).reason }, 'commit refused: command log write failed');
      throw err;
    }
    // Advanced only now: a refused command was never seen, so its seq is free again.
    this.nextSeq = seq + 1;
    this.core.added([h], 'self', 'commit');
    await this.store.sync();
    return cmd.id;
  }

  /**
   * Attach a link: handshake, then sync with whoever is on the other end. Returns the link's
   * session (its counters and requester, for diagnostics); the engine closes it with the link.
   */
  attach(link: Link): PeerSession {
    return this.core.attach(link);
  }

  /**
   * Replace the trust mode and the trusted keys (this agent's own key always stays trusted).
   * Every session — up, or in its handshake with the peer's `Hello` accepted — whose peer key is
   * no longer trusted is closed; the others are left alone. Newly trusted keys are admitted on
   * their next handshake (a refused peer's transport redials).
   */
  setTrust(mode: TrustMode, keys: readonly Uint8Array[]): TrustChange {
    return this.core.setTrust(mode, keys);
  }

  /** The engine's state now: store, peers, subscriptions, pacing, ingest, latency (a copy). */
  snapshot(): EngineSnapshot {
    const c = this.core;
    const store = this.store;
    const peer = (s: PeerSession): PeerSnapshot => {
      const total = s.requester.poll.peerTotal;
      return {
        id: s.peerId || '(handshake)',
        link: s.link.description,
        authenticated: s.authenticated,
        subscribed: s.subscribed,
        subscriber: s.authenticated && c.pusher.holds(s.peerId),
        sealed: s.sealed,
        pushBudget: s.authenticated ? c.pusher.budgetOf(s.peerId) : null,
        ...s.stats,
        lastContactMs: s.lastContactMs,
        lastSyncMs: s.requester.lastSyncMs,
        reconnects: s.authenticated ? Math.max(0, (c.authCount.get(s.peerId) ?? 1) - 1) : 0,
        behind: total === null ? null : Math.max(0, store.size - total),
        sync: s.requester.snapshot(),
      };
    };
    return {
      peerId: this.peerId,
      commands: store.size,
      heads: deepestFirst(store, store.heads(), 64).map((h) => toHex(store.idOf(h))),
      peers: c.allSessions().map(peer),
      subscriptions: c.pusher.usage,
      trust: { mode: c.keys.mode, keys: c.keys.size },
      pacing: { commitRatePerS: Math.round(c.commitRate.perSecond(c.settings.now()) * 1000) / 1000, nextPollHintMs: c.pollHintMs() },
      ingest: { ...c.ingestion.stats },
      latency: { pushMs: c.pusher.latency.snapshot(), applyMs: c.applyLatency.snapshot() },
    };
  }

  /**
   * @internal Benchmarks only: `handles` were appended to {@link store} directly (pre-signed
   * commands, bypassing commit and ingest); push them to subscribers as if just committed.
   */
  announce(handles: number[]): void {
    this.core.added(handles, 'self', 'commit');
  }

  /** Resolves once every command received so far has been verified and placed (or refused). */
  idle(): Promise<void> {
    return this.core.ingestion.idle();
  }

  /** Close every session. The store is the caller's to close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.core.close();
  }

  private lastOwnSeq(): number {
    const me = toHex(this.identity.author);
    for (let h = this.store.size - 1; h >= 0; h--) {
      const a = this.store.authorOf(h);
      if (toHex(a.author) === me) return a.seq;
    }
    return 0;
  }
}
