/**
 * What a {@link PeerSession} (and through it its handshakes, responder and requester) needs of
 * the engine: an interface instead of a back-pointer, the shape the simulated device's `SyncHost`
 * already has. The engine's core (`engine-core.ts`) implements it; a unit test can give a session
 * a fake. Nothing here imports the session: the session is seen as a {@link HostedSession}.
 */
import type { Identity } from '../../protocol/keys.js';
import type { PollRequest, PollResponse, Subscribe } from '../../protocol/messages.js';
import type { Logger } from '../node/log.js';
import type { CommandStore } from '../store/command-store.js';
import type { PeerRejected, PollAnswer } from './engine-events.js';
import type { EngineSettings } from './engine-settings.js';
import type { Delivery, IngestResult } from './ingest.js';
import type { PollServer } from './poll-queue.js';
import type { PollJob } from './poll-responder.js';
import type { SubscribeOutcome } from './pusher.js';

/** What the host reads of a session. */
export interface HostedSession {
  /** The peer's id ('' before its `Hello` was accepted). */
  readonly peerId: string;
  /** Same value at both ends of the link: both keep the link with the smaller when a peer has two. */
  readonly linkKey: string;
  readonly link: { readonly description: string };
  /** The session's poll server (its queued poll is dropped when it closes). */
  readonly responder: PollServer;
  /** Whether this peer pushes to us, or will once our first round ends (our `via`). */
  readonly upstream: boolean;
  /** Close the session and its link. */
  close(): Promise<void>;
  /** Our upstream set changed: re-subscribe so `via` stays true. */
  viaChanged(): void;
}

/** The engine, as its sessions see it. */
export interface SessionHost {
  readonly identity: Identity;
  readonly store: CommandStore;
  readonly settings: EngineSettings;
  readonly log: Logger;

  // Trust.
  /** Whether the trust rules admit a peer key (read at each `Hello`: trust may change). */
  admits(publicKey: Uint8Array): boolean;
  /** Record a peer's or author's key (only admitted keys are kept). */
  learnKey(publicKey: Uint8Array): void;
  /** Every known key, in `Keys` messages of at most 64 each. */
  keyAnnouncements(): Uint8Array[][];

  // Lifecycle.
  /** The peer proved its key. Returns false when the session lost to the peer's other link (it is being closed). */
  onUp(s: HostedSession): boolean;
  /** The session's link closed. */
  onDown(s: HostedSession): void;
  /** A first handshake refused the peer for trust. */
  onRejected(info: PeerRejected): void;

  // Responder.
  /** Queue a poll (one per link). Returns whether it replaced one not yet answered. */
  submitPoll(server: PollServer, req: PollRequest): boolean;
  /** Begin answering `req` of `peerId` (cheap; the queue advances the walk). */
  beginPoll(peerId: string, req: PollRequest): PollJob;
  /** Build the answer of a job whose walk is done, within `frameLimit`. */
  finishPoll(job: PollJob, frameLimit: number): PollResponse;
  /** The `next_poll_ms` we give now. */
  pollHintMs(): number;
  /** A peer's `Subscribe`. */
  subscribe(peerId: string, sub: Subscribe): SubscribeOutcome;
  /** A peer's `Unsubscribe`. */
  unsubscribe(peerId: string): void;
  /** A link drained below its high-water mark: pushes may continue. */
  linkDrained(): void;

  // Requester.
  /** Verify and store commands received from `from`. Never rejects. */
  ingest(encoded: readonly Uint8Array[], from: string, how: Delivery): Promise<IngestResult>;
  /** Peer ids whose pushes we receive or soon will. */
  upstreams(): string[];
  /** Whether `s`'s peer is an upstream changed: every other session re-subscribes. */
  upstreamsChanged(s: HostedSession): void;
  /** A poll answer from `peerId` was received. */
  pollAnswered(peerId: string, answer: PollAnswer): void;
  /** Commands of a frame that arrived at `arrivedAt` (performance.now) are in the store. */
  applied(arrivedAt: number): void;

  // Observation: cheap no-ops unless someone listens to the engine's events.
  /** A frame was handed to the link of `peerId`: the message and what went on the wire. */
  frameOut(peerId: string, message: Uint8Array, wire: Uint8Array): void;
  /** A frame body arrived on the link of `peerId`. */
  frameIn(peerId: string, wire: Uint8Array): void;
}
