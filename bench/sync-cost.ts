/**
 * What one two-peer sync costs in the peer comparison (bench/automerge.ts): syncwire, Automerge
 * and Yjs each report one of these per run, and the suite compares their medians.
 */
import { median } from './util.js';

/** Cost of one sync between two peers, counted the same way for every system. */
export interface SyncCost {
  /** Sync-protocol message bytes, both directions (link framing and per-link set-up excluded). */
  bytes: number;
  /** Round trips the exchange needs on a link whose messages take one latency each way. */
  roundTrips: number;
  /** Time from the start of the sync until both peers hold everything. */
  ms: number;
  /** Per-link set-up bytes counted apart (syncwire's handshake and scope opening). */
  handshake?: number;
  /** Canonical encoded size of the commands the sync moved (syncwire only: what the store holds). */
  commandBytes?: number;
}

/** Median of one field over runs (a missing optional field counts as 0). */
export function medianOf(costs: readonly SyncCost[], key: keyof SyncCost): number {
  return median(costs.map((c) => c[key] ?? 0));
}
