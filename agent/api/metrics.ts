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
 * Choices (test/metrics.test.ts FAMILIES lists every family with its type):
 * - Per-peer families carry one label, `peer` (16-hex id). A peer linked twice is one series
 *   (counters summed, ages the freshest link's). Sessions still in the handshake have no id yet
 *   and are counted in `syncwire_sessions_handshaking` only.
 * - Cardinality: the first {@link MAX_PEER_SERIES} peers in id order get their own series; the
 *   rest are folded into `peer="_other"` (counters summed, ages and lag the worst of them, sealed
 *   1 only if all are), and `syncwire_peers_folded` says how many.
 * - Ingest: the four outcomes are one counter family with label `result`: one kind of thing
 *   (what ingest did with a command), so one query compares or sums them. `received` is a family
 *   of its own because it is not an outcome: it counts commands before any, and an orphan counts
 *   as `orphaned` and again as `appended` once its parents arrive, so it is not their sum.
 * - Latency histograms are engine-wide, as the engine keeps them (per peer, 17 series each ×
 *   1,000 peers would be 34,000 lines).
 * - Counters of a link session restart at 0 when the link does: a counter reset, which
 *   `rate()` handles.
 */
import { MAX_PEER_SERIES, peerRows, PEER_COUNTERS, type MetricsPeer, type PeerRow } from './metrics-peers.js';
import { labels, PromWriter, type PromHistogram, type PromType } from './prom-text.js';

export { MAX_PEER_SERIES, OTHER, type MetricsPeer } from './metrics-peers.js';

/** A latency histogram in milliseconds (agent/sync/latency-histogram.ts `HistogramSnapshot`). */
export interface MetricsHistogram {
  bounds: readonly number[];
  cumulative: readonly number[];
  sumMs: number;
  count: number;
}

/** Push and apply latency, engine-wide (the snapshot's `latency`). */
export interface MetricsLatency {
  pushMs: MetricsHistogram;
  applyMs: MetricsHistogram;
}

/** What {@link renderMetrics} reads: structurally a subset of the status snapshot. */
export interface MetricsInput {
  version?: string;
  commands: number;
  /** Bytes of the command log; null (an in-memory store) or absent: the family is left out. */
  storeBytes?: number | null;
  /** Absent: read here (`process.memoryUsage.rss()`). */
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

/** A histogram in ms as one in seconds (the base unit Prometheus names want). */
function toSeconds(h: MetricsHistogram): PromHistogram {
  return { bounds: h.bounds.map((b) => b / 1000), cumulative: h.cumulative, sum: h.sumMs / 1000, count: h.count };
}

/**
 * The exposition of one snapshot: families in a fixed order, each present even when empty
 * (HELP and TYPE only), except `syncwire_store_bytes` without `storeBytes` and the latency
 * histograms' samples without `latency`. `process_*` are this process's own (RSS unless given). Peers sorted by id
 * (`_other` last), transports by URL. Allocates per call only; keeps nothing.
 */
export function renderMetrics(input: MetricsInput, opts: RenderOptions = {}): string {
  const nowMs = opts.nowMs ?? Date.now();
  const w = new PromWriter();
  const one = (name: string, type: PromType, help: string, v: number, lb = ''): void => void w.family(name, type, help).sample(v, lb);

  one('syncwire_build_info', 'gauge', 'Always 1; the label carries the agent version.', 1, labels([['version', input.version ?? 'unknown']]));
  // From the process's own time origin, not from the snapshot's rounded uptime: a start time that
  // moved by a second between scrapes would read as a restart to `changes()`.
  one('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, seconds.', Math.round(performance.timeOrigin) / 1000);
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

  const latency = input.latency;
  for (const [name, help, pick] of [
    ['syncwire_push_latency_seconds', 'From a command\'s addition to the graph to the push frame carrying it handed to a link (per command and subscriber), seconds.', (l: MetricsLatency) => l.pushMs],
    ['syncwire_apply_latency_seconds', 'From a poll answer\'s or push\'s arrival at its session to its commands being in the store, seconds.', (l: MetricsLatency) => l.applyMs],
  ] as const) {
    w.family(name, 'histogram', help);
    if (latency !== undefined) w.histogram(toSeconds(pick(latency)));
  }
  return w.toString();
}
