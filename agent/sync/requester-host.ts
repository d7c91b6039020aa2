/**
 * What the requester side of a session ({@link Requester}: its poll loop and its subscription)
 * needs of the session and the engine — the device's `SyncHost` pattern: an interface, not a
 * back-pointer. The session builds one per link.
 */
import type { Message } from '../../protocol/messages.js';
import type { Logger } from '../node/log.js';
import type { CommandStore } from '../store/command-store.js';
import type { PollAnswer } from './engine-events.js';
import type { EngineSettings } from './engine-settings.js';
import type { Delivery, IngestResult } from './ingest.js';

/** The requester's view of its session and engine. */
export interface RequesterHost {
  readonly store: CommandStore;
  readonly settings: EngineSettings;
  readonly log: Logger;
  /** The peer's id (set once its `Hello` was accepted). */
  readonly peerId: string;
  /** Description of the link, for log lines. */
  readonly linkDescription: string;
  /** Largest answer we can take: our frame limit and the link's, less the seal on a sealed link (§7.1). */
  readonly answerRoom: number;
  /** The peer announced that it pushes (its `Hello` has the Push capability). */
  readonly peerPushes: boolean;
  /** When the frame being handled reached the session (performance.now). */
  readonly frameArrivedAt: number;
  /** Send one encoded message (sealed by the session on a sealed link). */
  sendFrame(body: Uint8Array): void;
  send(msg: Message): void;
  /** Close the link (it answers no polls). */
  close(): Promise<void>;
  /** Verify and store commands received from this peer. Never rejects. */
  ingest(encoded: readonly Uint8Array[], how: Delivery): Promise<IngestResult>;
  /** Peer ids whose pushes we receive, this peer excluded (our `via`). */
  upstreams(): string[];
  /** Whether this peer pushes to us changed: the other sessions re-subscribe with a new `via`. */
  upstreamsChanged(): void;
  /** A poll answer was received (observers: progress bars). */
  pollAnswered(answer: PollAnswer): void;
  /** Commands of a frame that arrived at `arrivedAt` are in the store (apply latency). */
  applied(arrivedAt: number): void;
}
