/** The events an {@link Engine} emits, and what they carry. */
import type { Delivery, IngestResult } from './ingest.js';

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
  /**
   * Observation (benches, diagnostics): a frame was handed to the link of `peerId` ('' before its
   * `Hello` was accepted). `message` is the encoded message (for the sealed close marker: empty),
   * `wire` what the link was given — the same bytes, or sealed. Emitted only while someone
   * listens: without a listener the send path costs one `listenerCount` check.
   */
  'frame-out': [peerId: string, message: Uint8Array, wire: Uint8Array];
  /** Observation: a frame body arrived on the link of `peerId`, before anything reads it. Only while listened to. */
  'frame-in': [peerId: string, wire: Uint8Array];
  /** Observation: a batch of received commands was verified and placed. Only while listened to. */
  ingested: [peerId: string, how: Delivery, commands: readonly Uint8Array[], result: IngestResult];
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

