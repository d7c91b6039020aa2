/**
 * What {@link Engine.snapshot} returns: the engine's side of `syncwire status --json` and of
 * `GET /v1/status` (docs/STATUS.md documents every field). Plain data, copied at the call: the
 * caller may keep or serialise it. The process-side fields (pid, version, RSS, …) are added by
 * `agent/cli/snapshot.ts`.
 */
import type { HistogramSnapshot } from './latency-histogram.js';
import type { IngestStats } from './ingest.js';
import type { TrustMode } from './trust.js';
import type { SessionStats } from './session-stats.js';
import type { RequesterSnapshot } from './requester-snapshot.js';

export type { RequesterSnapshot } from './requester-snapshot.js';

/** One link session as the snapshot shows it. */
export interface PeerSnapshot extends SessionStats {
  /** The peer's id, or `(handshake)` before its `Hello` was accepted. */
  id: string;
  link: string;
  authenticated: boolean;
  /** We hold a push subscription with this peer (it pushes to us). */
  subscribed: boolean;
  /** This peer holds a slot in our subscription table (we push to it). */
  subscriber: boolean;
  /** The link is up and sealed (PROTOCOL.md §7.2). */
  sealed: boolean;
  /** Bytes of pushes this peer's subscription still grants us (its `max_bytes` less what we pushed); null when it holds none. */
  pushBudget: number | null;
  /** Epoch ms (the engine's clock) of the last frame received on this link; null before any. */
  lastContactMs: number | null;
  /**
   * Epoch ms of the last completed sync with this peer: a poll answer with `more` false applied,
   * or a push applied; null before any.
   */
  lastSyncMs: number | null;
  /** Times this peer id authenticated since the engine started, minus one (0 for a pending link). */
  reconnects: number;
  /**
   * How many commands the peer lacks, estimated: our command count minus the `total` of its last
   * poll answer (never below 0). An estimate: the peer may hold commands we lack, and it only
   * counts what the peer held when it answered. Null until it answered a poll of ours.
   */
  behind: number | null;
  /** Our requester state towards this peer: rounds, poll in flight, timeouts in a row, budget. */
  sync: RequesterSnapshot;
}

/** The engine's state at one moment. */
export interface EngineSnapshot {
  peerId: string;
  /** Commands in the store. */
  commands: number;
  /** Full hex ids of the heads, deepest first, at most 64. */
  heads: string[];
  /** Authenticated sessions first, then links still in their handshake. */
  peers: PeerSnapshot[];
  subscriptions: { used: number; capacity: number };
  /** The trust mode, and how many author keys are known (trusted ones; in `open` mode also those learnt). */
  trust: { mode: TrustMode; keys: number };
  pacing: { commitRatePerS: number; nextPollHintMs: number };
  ingest: IngestStats;
  latency: {
    /** From a command's addition to the graph to the push frame carrying it handed to a link (per command and subscriber). */
    pushMs: HistogramSnapshot;
    /** From a poll answer's or push's arrival at its session to its commands being in the store. */
    applyMs: HistogramSnapshot;
  };
}
