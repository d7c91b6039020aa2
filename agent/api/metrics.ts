/**
 * `GET /metrics`: the status snapshot rendered in the Prometheus text format.
 *
 * Why an own encoder (prom-text.ts) and not prom-client 15.1.3 — measured 2026-12-01 with
 * bench/metrics-cost.mjs (fresh node per variant, loader and young generation warmed first, then
 * import + ~25 collect-style families + 20 scrapes of a 10-peer snapshot; median of 7):
 *   own encoder   RSS +0.7 MB, heap +0.0 MB (baseline process ±0.4 MB)
 *   prom-client   RSS +3.2 MB, heap +1.3 MB
 * (cold, without the warm-up, both pay ~6 MB more for V8's first garbage: 6.1 vs 11.6 MB.)
 * The issue's budget is ≤ 3 MB of idle RSS for the whole API (server, routes, stream, metrics);
 * prom-client alone spends all of it, and its registry keeps a second copy of every series
 * (reset() and set() in collect) where this file reads the counters the engine already keeps,
 * once per scrape, and holds nothing between scrapes (no per-command work at all).
 *
 * Choices (README "Metrics" documents the families):
 * - Per-peer families carry one label, `peer` (16-hex id). A peer linked twice is one series
 *   (counters summed, ages the freshest link's). Sessions still in the handshake have no id yet
 *   and are counted in `syncwire_sessions_handshaking` only.
 * - Cardinality: the first {@link MAX_PEER_SERIES} peers in id order get their own series; the
 *   rest are folded into `peer="_other"` (counters summed, ages and lag the worst of them, sealed
 *   1 only if all are), and `syncwire_peers_folded` says how many.
 * - Ingest: the four outcomes are one counter family with label `result` (they partition what
 *   was handled, so `sum by ()` is meaningful); `received` is a separate family because it is
 *   not an outcome (it counts every command before its outcome, and an orphan counts again as
 *   `appended` once its parents arrive).
 * - Latency histograms are engine-wide, not per peer (17 series each × 1,000 peers would be
 *   34,000 lines); a snapshot with per-peer histograms is summed here.
 * - Counters of a link session restart at 0 when the link does: a counter reset, which
 *   `rate()` handles.
 */
import { labels, PromWriter, type PromHistogram, type PromType } from './prom-text.js';

/** Most peers with series of their own; the rest share `peer="_other"` (issue 15: bounded at 1,000). */
export const MAX_PEER_SERIES = 1000;

/** The `peer` label value of the peers beyond {@link MAX_PEER_SERIES}. */
export const OTHER = '_other';

/** A latency histogram in milliseconds (agent/sync/latency-histogram.ts `HistogramSnapshot`). */
export interface MetricsHistogram {
  bounds: readonly number[];
  cumulative: readonly number[];
  sumMs: number;
  count: number;
}

/** Push and apply latency (either engine-wide or per peer in the snapshot). */
export interface MetricsLatency {
  pushMs: MetricsHistogram;
  applyMs: MetricsHistogram;
}

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
  latency?: MetricsLatency;
}

/** What {@link renderMetrics} reads: structurally a subset of the status snapshot. */
export interface MetricsInput {
  version?: string;
  uptimeS?: number;
  commands: number;
  /** Bytes of the command log; null (an in-memory store) or absent: the family is left out. */
  storeBytes?: number | null;
  rssBytes?: number;
  /** Configured transports; `url` is already redacted by the snapshot. */
  transports: readonly { url: string; links: readonly unknown[] }[];
  peers: readonly MetricsPeer[];
  subscriptions: { used: number; capacity: number };
  ingest: { received: number; appended: number; duplicates: number; orphaned: number; rejected: number };
  latency?: MetricsLatency;
}

/** Options of {@link renderMetrics}. */
export interface RenderOptions {
  /** Wall clock for ages, ms. Default `Date.now()`. */
  nowMs?: number;
  /** Default {@link MAX_PEER_SERIES}. */
  maxPeers?: number;
}

/** One peer's (or the `_other` bucket's) values. */
interface PeerRow {
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
const PEER_COUNTERS: readonly [name: string, help: string, scope: 'link' | 'peer', read: (p: MetricsPeer) => number][] = [
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

/** The authenticated peers as rows (one per peer id, sorted), at most `max` plus `_other`. */
function peerRows(peers: readonly MetricsPeer[], nowMs: number, max: number): { rows: [string, PeerRow][]; up: number; folded: number } {
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

/** Histograms in ms → one histogram in seconds; those whose bounds differ from the first are skipped. */
function toSeconds(hs: readonly MetricsHistogram[]): PromHistogram | null {
  const first = hs[0];
  if (first === undefined) return null;
  const cumulative = new Array<number>(first.bounds.length + 1).fill(0);
  let sum = 0;
  let count = 0;
  for (const h of hs) {
    if (h.bounds.length !== first.bounds.length || h.bounds.some((b, i) => b !== first.bounds[i])) continue;
    for (let i = 0; i < cumulative.length; i++) cumulative[i] = (cumulative[i] ?? 0) + (h.cumulative[i] ?? h.count);
    sum += h.sumMs;
    count += h.count;
  }
  return { bounds: first.bounds.map((b) => b / 1000), cumulative, sum: sum / 1000, count };
}

/**
 * The exposition of one snapshot: every family always present (a peer family with no peer has
 * HELP and TYPE only), families in a fixed order, peers sorted by id (`_other` last),
 * transports by URL. Allocates per call only; keeps nothing.
 */
export function renderMetrics(input: MetricsInput, opts: RenderOptions = {}): string {
  const nowMs = opts.nowMs ?? Date.now();
  const w = new PromWriter();
  const one = (name: string, type: PromType, help: string, v: number, lb = ''): void => void w.family(name, type, help).sample(v, lb);

  one('syncwire_build_info', 'gauge', 'Always 1; the label carries the agent version.', 1, labels([['version', input.version ?? 'unknown']]));
  if (input.uptimeS !== undefined) one('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, seconds.', Math.round(nowMs / 1000 - input.uptimeS));
  one('process_resident_memory_bytes', 'gauge', 'Resident memory size, bytes.', input.rssBytes ?? process.memoryUsage.rss());

  const { rows, up, folded } = peerRows(input.peers, nowMs, opts.maxPeers ?? MAX_PEER_SERIES);
  one('syncwire_peers_up', 'gauge', 'Peers with at least one authenticated link.', up);
  one('syncwire_peers_folded', 'gauge', `Peers beyond the first ${opts.maxPeers ?? MAX_PEER_SERIES} (by id) whose series are summed into peer="_other".`, folded);
  one('syncwire_sessions_handshaking', 'gauge', 'Link sessions still in the handshake (no peer id yet).', input.peers.filter((p) => !p.authenticated).length);

  const blocks = rows.map(([id]) => labels([['peer', id]]));
  PEER_COUNTERS.forEach(([name, help], i) => {
    w.family(name, 'counter', help);
    rows.forEach(([, r], j) => w.sample(r.counters[i] ?? 0, blocks[j]));
  });
  const gauge = (name: string, help: string, read: (r: PeerRow) => number | null): void => {
    w.family(name, 'gauge', help);
    rows.forEach(([, r], j) => {
      const v = read(r);
      if (v !== null) w.sample(v, blocks[j]);
    });
  };
  gauge('syncwire_peer_sealed', '1 if every link to the peer is sealed, else 0.', (r) => (r.sealedAll ? 1 : 0));
  gauge('syncwire_peer_behind_commands', 'Commands the peer lacks, estimated from its last poll answer (absent until it answered one).', (r) => r.behind);
  gauge('syncwire_peer_last_sync_age_seconds', 'Seconds since the last completed sync with the peer (absent before the first).', (r) => r.syncAgeS);
  gauge('syncwire_peer_last_contact_age_seconds', 'Seconds since the last frame from the peer (absent before the first).', (r) => r.contactAgeS);
  gauge('syncwire_peer_poll_timeouts_consecutive', 'Polls to the peer that timed out in a row (0 after an answer).', (r) => r.timeouts);

  const links = new Map<string, number>();
  for (const t of input.transports) links.set(t.url, (links.get(t.url) ?? 0) + t.links.length);
  w.family('syncwire_transport_links', 'gauge', 'Links a configured transport holds now.');
  for (const url of [...links.keys()].sort()) w.sample(links.get(url)!, labels([['transport', url]]));

  one('syncwire_subscriptions_used', 'gauge', 'Peers holding a slot in our subscription table.', input.subscriptions.used);
  one('syncwire_subscriptions_capacity', 'gauge', 'Slots in our subscription table.', input.subscriptions.capacity);

  const g = input.ingest;
  w.family('syncwire_ingest_commands_total', 'counter', 'Commands received from peers, by outcome.');
  for (const [result, v] of [['appended', g.appended], ['duplicate', g.duplicates], ['orphaned', g.orphaned], ['rejected', g.rejected]] as const) {
    w.sample(v, labels([['result', result]]));
  }
  one('syncwire_ingest_received_commands_total', 'counter', 'Commands received from peers, before their outcome.', g.received);

  one('syncwire_store_commands', 'gauge', 'Commands the store holds.', input.commands);
  if (typeof input.storeBytes === 'number') one('syncwire_store_bytes', 'gauge', 'Bytes of the command log on disk.', input.storeBytes);

  const latency = input.latency !== undefined ? [input.latency] : input.peers.flatMap((p) => (p.latency ? [p.latency] : []));
  for (const [name, help, pick] of [
    ['syncwire_push_latency_seconds', 'From a command\'s addition to the graph to the push frame carrying it handed to a link (per command and subscriber), seconds.', (l: MetricsLatency) => l.pushMs],
    ['syncwire_apply_latency_seconds', 'From a poll answer\'s or push\'s arrival at its session to its commands being in the store, seconds.', (l: MetricsLatency) => l.applyMs],
  ] as const) {
    w.family(name, 'histogram', help);
    const h = toSeconds(latency.map(pick));
    if (h !== null) w.histogram(h);
  }
  return w.toString();
}
