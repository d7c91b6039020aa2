/**
 * The engine: one agent's command graph and everything that keeps it in sync with peers.
 * It owns the store, the key directory, the subscription table and one session per
 * authenticated peer. It talks to the outside only through {@link Link}s.
 */
import { EventEmitter } from 'node:events';
import { encodeCommand } from '../../protocol/command.js';
import { DEFAULT_SUBSCRIPTION_CAPACITY, MAX_FRAME_BYTES, MAX_PARENTS } from '../../protocol/constants.js';
import { toHex, type Identity } from '../../protocol/keys.js';
import { SEAL_REKEY_AT } from '../../protocol/seal.js';
import type { Link } from '../link.js';
import type { Logger } from '../node/log.js';
import type { CommandStore } from '../store/command-store.js';
import { deepestFirst } from './graph-walk.js';
import { Ingest, type Delivery } from './ingest.js';
import { ClientPacer, CommitRate, DEFAULT_BACKOFF, type BackoffPolicy } from './pacing.js';
import { PeerSession } from './peer-session.js';
import { PollQueue } from './poll-queue.js';
import { PollResponder } from './poll-responder.js';
import { Pusher } from './pusher.js';
import type { SubscriptionTable } from './subscription-table.js';
import { KeyDirectory, type TrustMode } from './trust.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { EngineSnapshot, PeerSnapshot } from './engine-snapshot.js';

/** The agent's one logger contract (agent/node/log.ts), re-exported for the engine's users. */
export type { Logger } from '../node/log.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** What the engine does when an option is absent; config and help texts read these (one place). */
export const ENGINE_DEFAULTS = {
  /** Subscription table capacity, a power of two. */
  subscriptionCapacity: DEFAULT_SUBSCRIPTION_CAPACITY,
  /** Longest subscription granted, seconds. */
  maxRemainOpenS: 900,
  /** What this agent asks of peers that push (renewed at 80 %). */
  subscribe: { remainOpenS: 600, maxBytes: 1 << 20 },
  /** `max_bytes` of our polls. */
  pollMaxBytes: 65536,
} as const;

/** Engine settings; every field but identity and store has a default. */
export interface EngineOptions {
  identity: Identity;
  store: CommandStore;
  /** Trust mode and trusted public keys. Default `{ mode: 'list', keys: [own key] }`. */
  trust?: { mode: TrustMode; keys: Uint8Array[] };
  /** Subscription table capacity, a power of two. Default 128. */
  subscriptionCapacity?: number;
  /** Longest subscription granted, seconds. Default 900. */
  maxRemainOpenS?: number;
  /** What this agent asks of peers that push: false to only poll. Default 600 s, 1 MiB (renewed at 80 %). */
  subscribe?: { remainOpenS: number; maxBytes: number } | false;
  /** `max_bytes` of our polls. Default 64 KiB (clamped to the peer's frame size). */
  pollMaxBytes?: number;
  /** Largest frame body we accept (announced in Hello). Default 64 KiB. */
  maxFrame?: number;
  /** Poll answer timeout: this many ms plus `pollTimeoutMsPerByte` × max_bytes. Default 3000. */
  pollTimeoutMs?: number;
  /** Default 0.1 ms a byte (a line of ~10 KB/s, like 115200 baud). */
  pollTimeoutMsPerByte?: number;
  /**
   * Close a link whose polls time out this many times in a row (0 = never): a link that carries
   * nothing back is dead in a way its transport did not notice (a wedged UART, a half-open
   * socket), and closing it makes the transport redial with fresh state. Default 8: with the
   * exponential backoff between timed-out polls (PROTOCOL.md §10.3) about a minute of silence.
   */
  deadAfterTimeouts?: number;
  /** Seconds between anti-entropy polls while subscribed. Default 300 (an idle link costs a few KB an hour). */
  subscribedPollS?: number;
  /** Next-poll hint bounds, ms. Default 1000..30000. */
  pollHint?: { minMs: number; maxMs: number };
  /** Token bucket for idle polls per peer. Default 10 tokens, 2 per second. */
  pollBucket?: { capacity: number; perSecond: number };
  /** Client wait policy. */
  backoff?: BackoffPolicy;
  logger?: Logger;
  /**
   * Sealed frames a side sends under one key before it starts a re-handshake for fresh keys
   * (PROTOCOL.md §7.4). Default `SEAL_REKEY_AT` (2^31); tests lower it to exercise rekeying.
   */
  rekeyAt?: number;
  /** Clock, ms. Default Date.now. */
  now?: () => number;
  /** Random source. Default Math.random. */
  random?: () => number;
}

/** Events the engine emits. */
export interface EngineEvents {
  /** Commands were added to the graph: `from` is a peer id, or 'self' for local commits. */
  commands: [handles: number[], from: string, how: Delivery];
  /** A poll answer from `peerId` was applied (drives progress bars and live views). */
  'poll-answer': [peerId: string, answer: PollAnswer];
  /** A peer authenticated. */
  'peer-up': [peerId: string];
  /** A peer's link closed. */
  'peer-down': [peerId: string];
  /**
   * A first handshake was refused because the peer's key is not trusted (`reason` is
   * `'untrusted'`). `publicKey` is the full key (64 hex), `link` the link's description.
   */
  'peer-rejected': [info: PeerRejected];
}

/** What {@link EngineEvents} `peer-rejected` tells. */
export interface PeerRejected {
  /** The refused peer's public key, 64 lowercase hex characters. */
  publicKey: string;
  peerId: string;
  /** Description of the link it came over. */
  link: string;
  /** Why: `'untrusted'`. */
  reason: string;
}

/** What {@link Engine.setTrust} changed. */
export interface TrustChange {
  /** Trusted keys that were not before. */
  added: number;
  /** Keys no longer trusted. */
  removed: number;
  /** Links closed because their peer's key is no longer trusted. */
  closed: number;
}

/** Peer ids whose authentications are counted (reconnects); the oldest is forgotten beyond. */
const MAX_COUNTED_PEERS = 4096;

/** What a poll answer said, for observers. */
export interface PollAnswer {
  /** Commands in the answer. */
  commands: number;
  /** More is waiting at the peer. */
  more: boolean;
  /** Commands the peer holds (progress = our count / total). */
  total: number;
  /** The peer's pacing hint. */
  nextPollMs: number;
}

/** Resolved settings (all defaults applied). */
export type EngineSettings = Required<Omit<EngineOptions, 'identity' | 'store' | 'trust' | 'logger'>>;

/** The sync engine. */
export class Engine extends EventEmitter<EngineEvents> {
  readonly identity: Identity;
  readonly store: CommandStore;
  readonly keys: KeyDirectory;
  readonly ingest: Ingest;
  readonly responder: PollResponder;
  /** Polls waiting for an answer: one per link, bounded work per event-loop turn. */
  readonly polls = new PollQueue();
  /** Subscriptions, origins and push passes. */
  readonly pusher: Pusher;
  readonly commitRate: CommitRate;
  readonly settings: EngineSettings;
  readonly log: Logger;
  /** Sessions by authenticated peer id. */
  readonly sessions = new Map<string, PeerSession>();
  /** Sessions not yet authenticated. */
  readonly pending = new Set<PeerSession>();
  /** Apply latency (engine-snapshot.ts); push latency is the pusher's. */
  readonly latency = { apply: new LatencyHistogram() };
  /** Authentications per peer id since start (insertion order: the oldest is dropped first). */
  private readonly authCount = new Map<string, number>();
  private nextSeq: number;
  private closed = false;

  constructor(opts: EngineOptions) {
    super();
    this.identity = opts.identity;
    this.store = opts.store;
    this.log = opts.logger ?? silent;
    this.settings = {
      subscriptionCapacity: opts.subscriptionCapacity ?? ENGINE_DEFAULTS.subscriptionCapacity,
      maxRemainOpenS: opts.maxRemainOpenS ?? ENGINE_DEFAULTS.maxRemainOpenS,
      subscribe: opts.subscribe ?? { ...ENGINE_DEFAULTS.subscribe },
      pollMaxBytes: opts.pollMaxBytes ?? ENGINE_DEFAULTS.pollMaxBytes,
      maxFrame: opts.maxFrame ?? MAX_FRAME_BYTES,
      subscribedPollS: opts.subscribedPollS ?? 300,
      pollTimeoutMs: opts.pollTimeoutMs ?? 3000,
      deadAfterTimeouts: opts.deadAfterTimeouts ?? 8,
      pollTimeoutMsPerByte: opts.pollTimeoutMsPerByte ?? 0.1,
      pollHint: opts.pollHint ?? { minMs: 1000, maxMs: 30000 },
      pollBucket: opts.pollBucket ?? { capacity: 10, perSecond: 2 },
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      rekeyAt: opts.rekeyAt ?? SEAL_REKEY_AT,
      now: opts.now ?? Date.now,
      random: opts.random ?? Math.random,
    };
    this.pusher = new Pusher({
      store: this.store,
      sessions: this.sessions,
      capacity: this.settings.subscriptionCapacity,
      maxRemainOpenS: this.settings.maxRemainOpenS,
      now: this.settings.now,
    });
    const trust = opts.trust ?? { mode: 'list' as const, keys: [] };
    this.keys = new KeyDirectory(trust.mode, [...trust.keys, this.identity.publicKey]);
    this.ingest = new Ingest(this.store, this.keys, (handles, from, how) => this.added(handles, from, how));
    this.responder = new PollResponder(this.store);
    this.commitRate = new CommitRate(this.settings.pollHint, this.settings.now());
    this.nextSeq = this.lastOwnSeq() + 1;
  }

  /** @internal The subscription table, for tests and benches not yet reading {@link snapshot}. */
  get table(): SubscriptionTable {
    return this.pusher.table;
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
   */
  async commit(payload: Uint8Array): Promise<Uint8Array> {
    if (this.closed) throw new Error('engine is closed');
    const parents = deepestFirst(this.store, this.store.heads(), MAX_PARENTS).map((h) => Uint8Array.from(this.store.idOf(h)));
    const seq = this.nextSeq;
    const cmd = encodeCommand({ parents, author: this.identity.author, seq, payload }, this.identity.sign);
    let h: number;
    try {
      h = this.store.appendWritten(cmd);
    } catch (err) {
      this.log.error({ err: (err as Error).message, reason: (err as { reason?: string }).reason }, 'commit refused: command log write failed');
      throw err;
    }
    // Advanced only now: a refused command was never seen, so its seq is free again.
    this.nextSeq = seq + 1;
    this.added([h], 'self', 'commit');
    await this.store.sync();
    return cmd.id;
  }

  /** Attach a link: handshake, then sync with whoever is on the other end. */
  attach(link: Link): PeerSession {
    const s = new PeerSession(this, link, new ClientPacer(this.settings.backoff, this.settings.random));
    this.pending.add(s);
    return s;
  }

  /**
   * Called by a session once the peer proved its key. A peer already connected over another link
   * keeps one of the two, the same one at both ends (the smaller `linkKey`): were each end to keep
   * its newer link, each could close the link the other kept and cut the peer off (found by the
   * engine property test with two links between the same peers). A peer that restarted comes back
   * under new nonces: when its new link loses the draw its dialer redials, and the old link closes
   * once its polls time out.
   */
  authenticated(s: PeerSession): void {
    this.pending.delete(s);
    const old = this.sessions.get(s.peerId);
    if (old !== undefined && old !== s) {
      const [keep, drop] = old.linkKey < s.linkKey ? [old, s] : [s, old];
      this.log.info({ peer: s.peerId, kept: keep.link.description, closed: drop.link.description }, 'peer reached over two links; keeping one');
      void drop.close();
      if (keep === old) return;
    }
    this.sessions.set(s.peerId, s);
    const n = this.authCount.get(s.peerId);
    if (n === undefined && this.authCount.size >= MAX_COUNTED_PEERS) this.authCount.delete(this.authCount.keys().next().value as string);
    this.authCount.set(s.peerId, (n ?? 0) + 1);
    this.pusher.resume(s.peerId); // and a push pass: it may have gone dirty while it had no link
    this.log.info({ peer: s.peerId, link: s.link.description }, 'peer authenticated');
    this.emit('peer-up', s.peerId);
    for (const other of this.sessions.values()) if (other !== s) other.viaChanged();
  }

  /** Called by a session when its link closed. */
  detached(s: PeerSession): void {
    this.pending.delete(s);
    this.polls.drop(s.responder);
    if (this.sessions.get(s.peerId) === s) {
      this.sessions.delete(s.peerId);
      this.responder.forget(s.peerId);
      // The subscription is suspended with its link (§9.3): kept for this peer's next link (a
      // flapping serial line keeps its pushes), freed first when another peer needs room, so
      // reconnecting peers with new identities can never fill the table with closed links.
      this.pusher.suspend(s.peerId);
      this.emit('peer-down', s.peerId);
      for (const other of this.sessions.values()) other.viaChanged();
    }
  }

  /** Peer ids whose pushes we currently receive (sent as `via` in our Subscribe). */
  upstreams(): string[] {
    const out: string[] = [];
    for (const [id, s] of this.sessions) if (s.client.upstream) out.push(id);
    return out;
  }

  /** Schedule one coalesced push pass. */
  schedulePush(): void {
    this.pusher.schedule();
  }

  /** The `next_poll_ms` hint this agent gives now: expected time to the next command, scaled by load. */
  pollHintMs(): number {
    const load = Math.max(1, this.sessions.size / 16);
    return this.commitRate.hintMs(load, this.settings.now());
  }

  /** Which peer a recently added command came from ('self' for local commits). */
  originOf(handle: number): string | undefined {
    return this.pusher.originOf(handle);
  }

  /**
   * Replace the trust mode and the trusted keys (this agent's own key always stays trusted).
   * Every session — up, or in its handshake with the peer's `Hello` accepted — whose peer key is
   * no longer trusted is closed; the others are left alone. Newly trusted keys are admitted on
   * their next handshake (a refused peer's transport redials).
   */
  setTrust(mode: TrustMode, keys: readonly Uint8Array[]): TrustChange {
    const change = this.keys.replace(mode, [...keys, this.identity.publicKey]);
    let closed = 0;
    for (const s of [...this.sessions.values(), ...this.pending]) {
      if (s.peerKey === null || this.keys.admits(s.peerKey)) continue;
      this.log.warn({ peer: s.peerId, publicKey: toHex(s.peerKey), link: s.link.description }, 'peer no longer trusted; closing its link');
      closed++;
      void s.close();
    }
    this.log.info({ mode, added: change.added, removed: change.removed, closed }, 'trust replaced');
    return { ...change, closed };
  }

  /** The engine's state now: store, peers, subscriptions, pacing, ingest, latency (a copy). */
  snapshot(): EngineSnapshot {
    const now = this.settings.now();
    const store = this.store;
    const peer = (s: PeerSession): PeerSnapshot => {
      const total = s.client.peerTotal;
      return {
        id: s.peerId || '(handshake)',
        link: s.link.description,
        authenticated: s.authenticated,
        subscribed: s.subscribed,
        subscriber: s.authenticated && this.pusher.holds(s.peerId),
        sealed: s.sealed,
        ...s.stats,
        lastContactMs: s.lastContactMs,
        lastSyncMs: s.client.lastSyncMs,
        reconnects: s.authenticated ? Math.max(0, (this.authCount.get(s.peerId) ?? 1) - 1) : 0,
        behind: total === null ? null : Math.max(0, store.size - total),
        sync: s.client.snapshot(),
      };
    };
    return {
      peerId: this.peerId,
      commands: store.size,
      heads: deepestFirst(store, store.heads(), 64).map((h) => toHex(store.idOf(h))),
      peers: [...this.sessions.values(), ...this.pending].map(peer),
      subscriptions: this.pusher.usage,
      pacing: { commitRatePerS: Math.round(this.commitRate.perSecond(now) * 1000) / 1000, nextPollHintMs: this.pollHintMs() },
      ingest: { ...this.ingest.stats },
      latency: { pushMs: this.pusher.latency.snapshot(), applyMs: this.latency.apply.snapshot() },
    };
  }

  /** Close every session. The store is the caller's to close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pusher.close();
    this.polls.close();
    const all = [...this.sessions.values(), ...this.pending];
    await Promise.all(all.map((s) => s.close()));
    await this.ingest.idle();
  }

  private added(handles: number[], from: string, how: Delivery): void {
    this.commitRate.record(handles.length, this.settings.now());
    this.pusher.added(handles, from);
    this.emit('commands', handles, from, how);
  }

  /**
   * One push pass over dirty subscribers whose link can take more (`push-pass.ts`: bounded work
   * per pass; what is left is continued by another pass on the next turn).
   */
  flushPushes(): void {
    this.pusher.flush();
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
