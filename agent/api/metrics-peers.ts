/**
 * The per-peer part of protocol 1's `/metrics`: one row of values per peer id (a peer linked
 * twice is one row), at most {@link MAX_PEER_SERIES} rows plus `_other` for the rest, sorted by id.
 */
import { MAX_PEER_SERIES, OTHER } from './metrics-v2.js';

export { MAX_PEER_SERIES, OTHER } from './metrics-v2.js';

/** The fields of one snapshot peer (agent/cli/snapshot.ts `PeerInfo`) that the metrics read. */
export interface MetricsPeer {
  id: string;
  authenticated: boolean;
  sealed: boolean;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  badFrames: number;
  sealFailures: number;
  replays: number;
  unsealedDropped: number;
  rehandshakes: number;
  sync: { rounds: number; timeoutsInARow: number };
  /** Wall-clock time (ms since the epoch) of the last frame from the peer; null: none yet. */
  lastContactMs?: number | null;
  /** Wall-clock time (ms since the epoch) of the last completed sync; null: none yet. */
  lastSyncMs?: number | null;
  reconnects?: number;
  /** Commands the peer lacks, estimated (our count minus its last poll answer's total); null: unknown. */
  behind?: number | null;
}

/** One peer's (or the `_other` bucket's) values. */
export interface PeerRow {
  counters: number[];
  sealedAll: boolean;
  behind: number | null;
  syncAgeS: number | null;
  contactAgeS: number | null;
  timeouts: number;
}

/**
 * Per-peer counter families, in output order, with the snapshot field each reads. `link`
 * counters belong to one link session (a peer's links add up); `peer` counters are kept per
 * peer id and repeated in each of its sessions (taken once per peer, added up across peers).
 */
export const PEER_COUNTERS: readonly [name: string, help: string, scope: 'link' | 'peer', read: (p: MetricsPeer) => number][] = [
  ['syncwire_peer_receive_bytes_total', 'Bytes received from the peer on its links.', 'link', (p) => p.bytesIn],
  ['syncwire_peer_transmit_bytes_total', 'Bytes sent to the peer on its links.', 'link', (p) => p.bytesOut],
  ['syncwire_peer_receive_frames_total', 'Frames received from the peer.', 'link', (p) => p.framesIn],
  ['syncwire_peer_transmit_frames_total', 'Frames sent to the peer.', 'link', (p) => p.framesOut],
  ['syncwire_peer_bad_frames_total', 'Frames from the peer that did not decode.', 'link', (p) => p.badFrames],
  ['syncwire_peer_poll_rounds_total', 'Poll rounds towards the peer completed with nothing left.', 'link', (p) => p.sync.rounds],
  ['syncwire_peer_reconnects_total', 'Times the peer authenticated again since the agent started.', 'peer', (p) => p.reconnects ?? 0],
  ['syncwire_peer_seal_failures_total', 'Sealed frames that opened under no key (forged, altered, truncated): dropped.', 'link', (p) => p.sealFailures],
  ['syncwire_peer_seal_replays_total', 'Genuine sealed frames seen before or too old for the replay window: dropped.', 'link', (p) => p.replays],
  ['syncwire_peer_unsealed_dropped_total', 'Unsealed frames other than Hello and Auth on a sealed link: dropped.', 'link', (p) => p.unsealedDropped],
  ['syncwire_peer_rehandshakes_total', 'Re-handshakes completed on the links to the peer.', 'link', (p) => p.rehandshakes],
];

const ageS = (atMs: number | null | undefined, nowMs: number): number | null =>
  typeof atMs === 'number' && Number.isFinite(atMs) ? Math.max(0, nowMs - atMs) / 1000 : null;
const minN = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
const maxN = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

function rowOf(p: MetricsPeer, nowMs: number): PeerRow {
  return {
    counters: PEER_COUNTERS.map(([, , , read]) => read(p)),
    sealedAll: p.sealed,
    behind: typeof p.behind === 'number' ? p.behind : null,
    syncAgeS: ageS(p.lastSyncMs, nowMs),
    contactAgeS: ageS(p.lastContactMs, nowMs),
    timeouts: p.sync.timeoutsInARow,
  };
}

/**
 * Fold `b` into `a`. `worst` (the `_other` bucket, distinct peers): counters add, ages and lag
 * are the worse. Else (two links of one peer): link counters add, peer counters are one value,
 * ages and lag are the better link's.
 */
function fold(a: PeerRow, b: PeerRow, worst: boolean): void {
  PEER_COUNTERS.forEach(([, , scope], i) => {
    const x = a.counters[i] ?? 0;
    const y = b.counters[i] ?? 0;
    a.counters[i] = worst || scope === 'link' ? x + y : Math.max(x, y);
  });
  const pick = worst ? maxN : minN;
  a.sealedAll = a.sealedAll && b.sealedAll;
  a.behind = pick(a.behind, b.behind);
  a.syncAgeS = pick(a.syncAgeS, b.syncAgeS);
  a.contactAgeS = pick(a.contactAgeS, b.contactAgeS);
  a.timeouts = worst ? Math.max(a.timeouts, b.timeouts) : Math.min(a.timeouts, b.timeouts);
}

/**
 * The authenticated peers as rows (one per peer id, sorted), at most `max` plus `_other`;
 * `up` = distinct peer ids, `folded` = how many of them went into `_other`.
 */
export function peerRows(peers: readonly MetricsPeer[], nowMs: number, max: number): { rows: [string, PeerRow][]; up: number; folded: number } {
  const byId = new Map<string, PeerRow>();
  for (const p of peers) {
    if (!p.authenticated) continue;
    const r = rowOf(p, nowMs);
    const had = byId.get(p.id);
    if (had === undefined) byId.set(p.id, r);
    else fold(had, r, false);
  }
  // A peer whose id is literally `_other` (never a real 16-hex id) is folded too: no series twice.
  const ids = [...byId.keys()].filter((id) => id !== OTHER).sort();
  const rows: [string, PeerRow][] = ids.slice(0, max).map((id) => [id, byId.get(id)!]);
  let other: PeerRow | undefined;
  for (const id of byId.has(OTHER) ? [OTHER, ...ids.slice(max)] : ids.slice(max)) {
    const r = byId.get(id)!;
    if (other === undefined) other = r;
    else fold(other, r, true);
  }
  if (other !== undefined) rows.push([OTHER, other]);
  return { rows, up: byId.size, folded: byId.size - Math.min(max, ids.length) };
}
