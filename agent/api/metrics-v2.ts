/**
 * `GET /metrics` of a protocol-2 agent (docs/design/v2-scopes.md §6.2): the v2 status snapshot in
 * the Prometheus text format, written with the own encoder (prom-text.ts says why not
 * prom-client) and read once per scrape from what the snapshot holds; nothing is kept between
 * scrapes. v1's family names are kept where the meaning is the same (`syncwire_peers_up`,
 * `syncwire_peer_*_total{peer}`, `syncwire_subscriptions_*`, `syncwire_transport_links`).
 *
 * Cardinality: per-scope families carry `scope="<name>"` for at most {@link MAX_SCOPE_SERIES}
 * scopes and sum the rest under `scope="_other"` (a scope name never starts with `_`, so it is
 * never a real scope); per-peer families are bounded as v1's ({@link MAX_PEER_SERIES} + `_other`).
 * The scopes that keep their own series: first those not named `device/…` (the few shared scopes,
 * `legacy/v1` included), then device scopes, each group by name — so a gateway's fleet scope keeps
 * its series however many device scopes it holds, and the choice only changes when scopes come
 * or go. `syncwire_scopes_folded` says how many were summed.
 */
import { labels, PromWriter, type PromType } from './prom-text.js';

/** Most peers with series of their own; the rest share `peer="_other"` (issue 15: bounded at 1,000). */
export const MAX_PEER_SERIES = 1000;

/** The `peer` and `scope` label value of the peers and scopes beyond the bounds (never a peer id or scope name). */
export const OTHER = '_other';

/**
 * Most scopes with series of their own (`metrics.maxScopeSeries` of the design, a constant here):
 * 256 scopes × the 7 per-scope families stay under 2,000 lines per scrape.
 */
export const MAX_SCOPE_SERIES = 256;

/** The fields of a status scope (agent/cli/scope-info.ts `ScopeInfo`) that the metrics read. */
export interface MetricsScope {
  name: string;
  commands: number;
  retained: number;
  pinned: number;
  /** null: the store does not keep the total; the scope has no `syncwire_scope_bytes` sample. */
  bytes: number | null;
  horizon: number;
  gaps: number;
  /** Absent (older snapshots): counted 0. */
  heldSkips?: number;
  activePeers: number;
}

/** The fields of a v2 status peer (agent/cli/snapshot-v2.ts `PeerInfoV2`) that the metrics read. */
export interface MetricsPeerV2 {
  id: string;
  authenticated: boolean;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  unknownScope: number;
  scopes: readonly unknown[];
}

/** What {@link renderMetricsV2} reads: structurally a subset of the v2 status snapshot. */
export interface MetricsV2Input {
  version?: string;
  /** Absent: read here (`process.memoryUsage.rss()`). */
  rssBytes?: number;
  scopes: readonly MetricsScope[];
  peers: readonly MetricsPeerV2[];
  transports: readonly { url: string; links: readonly unknown[] }[];
  subscriptions: { used: number; capacity: number };
  scopeJoinsRejected: number;
  versionRefused: number;
  unknownScope: number;
  notAMember: number;
  deadLinkCloses: number;
  pushesDropped: number;
}

/** Options of {@link renderMetricsV2}. */
export interface RenderV2Options {
  /** Default {@link MAX_SCOPE_SERIES}. */
  maxScopes?: number;
  /** Default {@link MAX_PEER_SERIES}. */
  maxPeers?: number;
}

/** Per-scope families, in output order: name, type, help, the field read (null: no sample). */
const SCOPE_FAMILIES: readonly [string, PromType, string, (s: MetricsScope) => number | null][] = [
  ['syncwire_scope_commands', 'gauge', 'Handles assigned in the scope (pruned ones included).', (s) => s.commands],
  ['syncwire_scope_retained', 'gauge', 'Commands the scope still holds.', (s) => s.retained],
  ['syncwire_scope_pinned', 'gauge', 'Retained commands below the scope\'s base (kept heads, membership commands).', (s) => s.pinned],
  ['syncwire_scope_bytes', 'gauge', 'Bytes of the scope: its retained encodings (memory store) or its segment log (disk store); absent when unknown.', (s) => s.bytes],
  ['syncwire_scope_horizon_entries', 'gauge', 'Horizon entries: pruned or never-held parents of retained commands.', (s) => s.horizon],
  ['syncwire_scope_gaps_total', 'counter', 'Gap markers written to the scope since the process started.', (s) => s.gaps],
  ['syncwire_scope_active_peers', 'gauge', 'Peers the scope is active with now.', (s) => s.activePeers],
];

/** Per-peer counter families (a peer's links add up). */
const PEER_FAMILIES: readonly [string, string, (p: MetricsPeerV2) => number][] = [
  ['syncwire_peer_receive_bytes_total', 'Bytes received from the peer on its links.', (p) => p.bytesIn],
  ['syncwire_peer_transmit_bytes_total', 'Bytes sent to the peer on its links.', (p) => p.bytesOut],
  ['syncwire_peer_receive_frames_total', 'Frames received from the peer.', (p) => p.framesIn],
  ['syncwire_peer_transmit_frames_total', 'Frames sent to the peer.', (p) => p.framesOut],
  ['syncwire_peer_unknown_scope_total', 'Scoped messages from the peer naming a scope number that does not route.', (p) => p.unknownScope],
  ['syncwire_peer_active_scopes', 'Scopes active with the peer now.', (p) => p.scopes.length],
];

/** Shared scopes before device scopes, each by name (see the file comment). */
function seriesOrder(a: MetricsScope, b: MetricsScope): number {
  const da = a.name.startsWith('device/');
  const db = b.name.startsWith('device/');
  if (da !== db) return da ? 1 : -1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Values of `rows` summed; a null field stays null only when every row's is (a sum of the known ones otherwise). */
function sumRows(rows: readonly (number | null)[][], width: number): (number | null)[] {
  const out: (number | null)[] = new Array<number | null>(width).fill(null);
  for (const r of rows) for (let i = 0; i < width; i++) if (r[i] !== null) out[i] = (out[i] ?? 0) + r[i]!;
  return out;
}

/** The scope rows: label value and one value per {@link SCOPE_FAMILIES} entry, `_other` last when any scope was folded. */
export function scopeRows(scopes: readonly MetricsScope[], max: number): { rows: [string, (number | null)[]][]; folded: number } {
  const sorted = [...scopes].sort(seriesOrder);
  const values = (s: MetricsScope): (number | null)[] => SCOPE_FAMILIES.map(([, , , read]) => read(s));
  const rows: [string, (number | null)[]][] = sorted.slice(0, max).map((s) => [s.name, values(s)]);
  const rest = sorted.slice(max);
  if (rest.length > 0) rows.push([OTHER, sumRows(rest.map(values), SCOPE_FAMILIES.length)]);
  return { rows, folded: rest.length };
}

/** Authenticated peers by id (links of one peer summed), at most `max` plus `_other`. */
function peerRowsV2(peers: readonly MetricsPeerV2[], max: number): { rows: [string, number[]][]; up: number } {
  const byId = new Map<string, number[]>();
  for (const p of peers) {
    if (!p.authenticated) continue;
    const v = PEER_FAMILIES.map(([, , read]) => read(p));
    const had = byId.get(p.id);
    byId.set(p.id, had === undefined ? v : had.map((x, i) => x + v[i]!));
  }
  const ids = [...byId.keys()].sort();
  const rows: [string, number[]][] = ids.slice(0, max).map((id) => [id, byId.get(id)!]);
  const rest = ids.slice(max).map((id) => byId.get(id)!);
  if (rest.length > 0) rows.push([OTHER, rest.reduce((a, b) => a.map((x, i) => x + b[i]!))]);
  return { rows, up: byId.size };
}

/**
 * The exposition of one v2 snapshot: families in a fixed order, each present even when empty
 * (HELP and TYPE only). Allocates per call only; keeps nothing.
 */
export function renderMetricsV2(input: MetricsV2Input, opts: RenderV2Options = {}): string {
  const w = new PromWriter();
  const one = (name: string, type: PromType, help: string, v: number, lb = ''): void => void w.family(name, type, help).sample(v, lb);
  const maxScopes = opts.maxScopes ?? MAX_SCOPE_SERIES;

  one('syncwire_build_info', 'gauge', 'Always 1; the labels carry the agent version and protocol.', 1, labels([['version', input.version ?? 'unknown'], ['protocol', '2']]));
  one('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, seconds.', Math.round(performance.timeOrigin) / 1000);
  one('process_resident_memory_bytes', 'gauge', 'Resident memory size, bytes.', input.rssBytes ?? process.memoryUsage.rss());

  const { rows: scopes, folded } = scopeRows(input.scopes, maxScopes);
  one('syncwire_scopes', 'gauge', 'Scopes held (legacy/v1 included).', input.scopes.length);
  one('syncwire_scopes_folded', 'gauge', `Scopes beyond the first ${maxScopes} whose series are summed into scope="_other".`, folded);
  const scopeBlocks = scopes.map(([name]) => labels([['scope', name]]));
  SCOPE_FAMILIES.forEach(([name, type, help], i) => {
    w.family(name, type, help);
    scopes.forEach(([, v], j) => {
      const x = v[i];
      if (x !== null && x !== undefined) w.sample(x, scopeBlocks[j]);
    });
  });

  const { rows: peers, up } = peerRowsV2(input.peers, opts.maxPeers ?? MAX_PEER_SERIES);
  one('syncwire_peers_up', 'gauge', 'Peers with at least one authenticated link.', up);
  one('syncwire_sessions_handshaking', 'gauge', 'Link sessions still in the handshake (no peer id yet).', input.peers.filter((p) => !p.authenticated).length);
  const peerBlocks = peers.map(([id]) => labels([['peer', id]]));
  PEER_FAMILIES.forEach(([name, help], i) => {
    w.family(name, name.endsWith('_total') ? 'counter' : 'gauge', help);
    peers.forEach(([, v], j) => w.sample(v[i] ?? 0, peerBlocks[j]));
  });

  one('syncwire_version_refused_total', 'counter', 'Hellos of another protocol version refused, and refusals of ours received.', input.versionRefused);
  one('syncwire_unknown_scope_total', 'counter', 'Scoped messages naming a scope number that does not route (ended links included).', input.unknownScope);
  one('syncwire_not_a_member_total', 'counter', 'Polls and Subscribes refused NotAMember: the scope does not grant the peer (ended links included).', input.notAMember);
  one('syncwire_dead_link_closes_total', 'counter', 'Links closed because one scope\'s polls timed out deadAfterTimeouts times in a row with nothing heard from the peer.', input.deadLinkCloses);
  one('syncwire_held_skips_total', 'counter', 'Poll answers that left out a command held without its signature (a plain answer or a poll without elide), over every scope.', input.scopes.reduce((n, s) => n + (s.heldSkips ?? 0), 0));
  one('syncwire_pushes_dropped_total', 'counter', 'Pushes dropped because the scope\'s backlog of pushed commands not yet placed was full (the link\'s scope is polled instead).', input.pushesDropped);
  one('syncwire_scope_joins_rejected_total', 'counter', 'Joined scopes dropped for a first command that was not their genesis.', input.scopeJoinsRejected);
  one('syncwire_subscriptions_used', 'gauge', 'Slots of the (peer, scope) push subscription table in use.', input.subscriptions.used);
  one('syncwire_subscriptions_capacity', 'gauge', 'Slots of the (peer, scope) push subscription table.', input.subscriptions.capacity);

  const links = new Map<string, number>();
  for (const t of input.transports) links.set(t.url, (links.get(t.url) ?? 0) + t.links.length);
  w.family('syncwire_transport_links', 'gauge', 'Links a configured transport holds now.');
  for (const url of [...links.keys()].sort()) w.sample(links.get(url)!, labels([['transport', url]]));
  return w.toString();
}
