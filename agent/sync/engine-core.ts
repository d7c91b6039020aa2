/**
 * The engine's parts and the {@link SessionHost} its sessions talk to: the key directory, the
 * ingest pipeline, the poll queue and responder, the pusher (subscriptions and push passes), the
 * commit-rate hint, and the sessions — pending ones and one per authenticated peer. The
 * {@link Engine} facade owns one and exposes none of it; sessions see it only as a host.
 */
import type { EventEmitter } from 'node:events';
import { toHex, type Identity } from '../../protocol/keys.js';
import type { PollRequest, PollResponse, Subscribe } from '../../protocol/messages.js';
import type { Link } from '../link.js';
import type { Logger } from '../node/log.js';
import type { CommandStore } from '../store/command-store.js';
import type { EngineEvents, PeerRejected, PollAnswer } from './engine-events.js';
import type { EngineSettings } from './engine-settings.js';
import { Ingest, type Delivery, type IngestResult } from './ingest.js';
import { LatencyHistogram } from './latency-histogram.js';
import { ClientPacer, CommitRate } from './pacing.js';
import { PeerSession } from './peer-session.js';
import { PollQueue, type PollServer } from './poll-queue.js';
import { PollResponder, type PollJob } from './poll-responder.js';
import { Pusher, type SubscribeOutcome } from './pusher.js';
import type { SessionHost } from './session-host.js';
import { KeyDirectory, type TrustMode } from './trust.js';

/** Peer ids whose authentications are counted (reconnects); the oldest is forgotten beyond. */
const MAX_COUNTED_PEERS = 4096;

/** What the core needs to be built. */
export interface CoreSetup {
  identity: Identity;
  store: CommandStore;
  settings: EngineSettings;
  log: Logger;
  trust: { mode: TrustMode; keys: readonly Uint8Array[] };
  /** The facade: events are emitted on it. */
  events: Pick<EventEmitter<EngineEvents>, 'emit' | 'listenerCount'>;
}

/** The engine's internals. */
export class EngineCore implements SessionHost {
  readonly identity: Identity;
  readonly store: CommandStore;
  readonly settings: EngineSettings;
  readonly log: Logger;
  readonly keys: KeyDirectory;
  readonly ingestion: Ingest;
  readonly responder: PollResponder;
  /** Polls waiting for an answer: one per link, bounded work per event-loop turn. */
  readonly polls = new PollQueue();
  readonly pusher: Pusher;
  readonly commitRate: CommitRate;
  /** Sessions by authenticated peer id. */
  readonly sessions = new Map<string, PeerSession>();
  /** Sessions not yet authenticated. */
  readonly pending = new Set<PeerSession>();
  /** From a frame's arrival at its session to its commands being in the store. */
  readonly applyLatency = new LatencyHistogram();
  /** Authentications per peer id since start (insertion order: the oldest is dropped first). */
  readonly authCount = new Map<string, number>();
  private readonly events: CoreSetup['events'];

  constructor(setup: CoreSetup) {
    this.identity = setup.identity;
    this.store = setup.store;
    this.settings = setup.settings;
    this.log = setup.log;
    this.events = setup.events;
    const s = this.settings;
    this.pusher = new Pusher({ store: this.store, sessions: this.sessions, capacity: s.subscriptionCapacity, maxRemainOpenS: s.maxRemainOpenS, now: s.now });
    this.keys = new KeyDirectory(setup.trust.mode, [...setup.trust.keys, this.identity.publicKey]);
    this.ingestion = new Ingest(this.store, this.keys, (handles, from, how) => this.added(handles, from, how));
    this.responder = new PollResponder(this.store);
    this.commitRate = new CommitRate(s.pollHint, s.now());
  }

  /** A new link: its session starts its handshake. */
  attach(link: Link): PeerSession {
    const s = new PeerSession(this, link, new ClientPacer(this.settings.backoff, this.settings.random));
    this.pending.add(s);
    return s;
  }

  /** Every session, authenticated ones first. */
  allSessions(): PeerSession[] {
    return [...this.sessions.values(), ...this.pending];
  }

  /** Commands were added to the graph (a commit, or a batch placed by ingest). */
  added(handles: number[], from: string, how: Delivery): void {
    this.commitRate.record(handles.length, this.settings.now());
    this.pusher.added(handles, from);
    this.events.emit('commands', handles, from, how);
  }

  // SessionHost (session-host.ts documents each member).
  readonly admits = (publicKey: Uint8Array): boolean => this.keys.admits(publicKey);

  readonly learnKey = (publicKey: Uint8Array): void => void this.keys.learn(publicKey);

  readonly keyAnnouncements = (): Uint8Array[][] => this.keys.announcements();

  /**
   * A peer already connected over another link keeps one of the two, the same one at both ends
   * (the smaller `linkKey`): were each end to keep its newer link, each could close the link the
   * other kept and cut the peer off (found by the engine property test with two links between the
   * same peers). A peer that restarted comes back under new nonces: when its new link loses the
   * draw its dialer redials, and the old link closes once its polls time out.
   */
  onUp(s: PeerSession): boolean {
    this.pending.delete(s);
    const old = this.sessions.get(s.peerId);
    if (old !== undefined && old !== s) {
      const [keep, drop] = old.linkKey < s.linkKey ? [old, s] : [s, old];
      this.log.info({ peer: s.peerId, kept: keep.link.description, closed: drop.link.description }, 'peer reached over two links; keeping one');
      void drop.close();
      if (keep === old) return false;
    }
    this.sessions.set(s.peerId, s);
    const n = this.authCount.get(s.peerId);
    if (n === undefined && this.authCount.size >= MAX_COUNTED_PEERS) this.authCount.delete(this.authCount.keys().next().value as string);
    this.authCount.set(s.peerId, (n ?? 0) + 1);
    this.pusher.resume(s.peerId); // and a push pass: it may have gone dirty while it had no link
    this.log.info({ peer: s.peerId, link: s.link.description }, 'peer authenticated');
    this.events.emit('peer-up', s.peerId);
    for (const other of this.sessions.values()) if (other !== s) other.viaChanged();
    return true;
  }

  onDown(s: PeerSession): void {
    this.pending.delete(s);
    this.polls.drop(s.responder);
    if (this.sessions.get(s.peerId) !== s) return;
    this.sessions.delete(s.peerId);
    this.responder.forget(s.peerId);
    // The subscription is suspended with its link (§9.3): kept for this peer's next link (a
    // flapping serial line keeps its pushes), freed first when another peer needs room, so
    // reconnecting peers with new identities can never fill the table with closed links.
    this.pusher.suspend(s.peerId);
    this.events.emit('peer-down', s.peerId);
    for (const other of this.sessions.values()) other.viaChanged();
  }

  onRejected(info: PeerRejected): void {
    this.events.emit('peer-rejected', info);
  }

  readonly submitPoll = (server: PollServer, req: PollRequest): boolean => this.polls.submit(server, req);

  readonly beginPoll = (peerId: string, req: PollRequest): PollJob => this.responder.begin(peerId, req);

  readonly finishPoll = (job: PollJob, frameLimit: number): PollResponse => this.responder.finish(job, frameLimit, this.pollHintMs());

  /** The `next_poll_ms` hint this agent gives now: expected time to the next command, scaled by load. */
  pollHintMs(): number {
    const load = Math.max(1, this.sessions.size / 16);
    return this.commitRate.hintMs(load, this.settings.now());
  }

  readonly subscribe = (peerId: string, sub: Subscribe): SubscribeOutcome => this.pusher.subscribe(peerId, sub);

  readonly unsubscribe = (peerId: string): void => this.pusher.unsubscribe(peerId);

  readonly linkDrained = (): void => this.pusher.schedule();

  ingest(encoded: readonly Uint8Array[], from: string, how: Delivery): Promise<IngestResult> {
    const r = this.ingestion.receive(encoded, from, how);
    if (this.events.listenerCount('ingested') > 0) void r.then((res) => this.events.emit('ingested', from, how, encoded, res), () => undefined);
    return r;
  }

  /** Peer ids whose pushes we currently receive (sent as `via` in our Subscribe). */
  upstreams(): string[] {
    const out: string[] = [];
    for (const [id, s] of this.sessions) if (s.upstream) out.push(id);
    return out;
  }

  readonly upstreamsChanged = (s: PeerSession): void => {
    for (const other of this.sessions.values()) if (other !== s) other.viaChanged();
  };

  readonly pollAnswered = (peerId: string, answer: PollAnswer): void => void this.events.emit('poll-answer', peerId, answer);

  readonly applied = (arrivedAt: number): void => void this.applyLatency.observe(performance.now() - arrivedAt);

  readonly frameOut = (peerId: string, message: Uint8Array, wire: Uint8Array): void => {
    if (this.events.listenerCount('frame-out') > 0) this.events.emit('frame-out', peerId, message, wire);
  };

  readonly frameIn = (peerId: string, wire: Uint8Array): void => {
    if (this.events.listenerCount('frame-in') > 0) this.events.emit('frame-in', peerId, wire);
  };

  /** Replace trust; close every session whose peer key is no longer trusted. */
  setTrust(mode: TrustMode, keys: readonly Uint8Array[]): { added: number; removed: number; closed: number } {
    const change = this.keys.replace(mode, [...keys, this.identity.publicKey]);
    let closed = 0;
    for (const s of this.allSessions()) {
      if (s.peer === null || this.keys.admits(s.peer.publicKey)) continue;
      this.log.warn({ peer: s.peerId, publicKey: toHex(s.peer.publicKey), link: s.link.description }, 'peer no longer trusted; closing its link');
      closed++;
      void s.close();
    }
    this.log.info({ mode, added: change.added, removed: change.removed, closed }, 'trust replaced');
    return { ...change, closed };
  }

  /** Stop serving and close every session. */
  async close(): Promise<void> {
    this.pusher.close();
    this.polls.close();
    await Promise.all(this.allSessions().map((s) => s.close()));
    await this.ingestion.idle();
  }
}
