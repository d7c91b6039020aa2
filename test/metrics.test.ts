import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parse, { type ParsedFamily } from 'parse-prometheus-text-format';
import { MAX_PEER_SERIES, renderMetrics, type MetricsHistogram, type MetricsInput, type MetricsPeer } from '../agent/api/metrics.js';
import { escapeLabelValue, formatValue, labels, PromNameError, PromWriter } from '../agent/api/prom-text.js';
import { takeSnapshot } from '../agent/cli/snapshot.js';
import { LatencyHistogram } from '../agent/sync/latency-histogram.js';
import { DiskStore } from '../agent/store/disk-store.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { Engine } from '../agent/sync/engine.js';
import { generateIdentity } from '../protocol/keys.js';
import { connect, converge, FAST } from '../testkit/engines.js';
import { until } from '../testkit/wait.js';

/** Every family renderMetrics writes, with its type (the contract README documents). */
const FAMILIES: Record<string, ParsedFamily['type']> = {
  syncwire_build_info: 'GAUGE',
  process_start_time_seconds: 'GAUGE',
  process_resident_memory_bytes: 'GAUGE',
  syncwire_peers_up: 'GAUGE',
  syncwire_peers_folded: 'GAUGE',
  syncwire_sessions_handshaking: 'GAUGE',
  syncwire_peer_receive_bytes_total: 'COUNTER',
  syncwire_peer_transmit_bytes_total: 'COUNTER',
  syncwire_peer_receive_frames_total: 'COUNTER',
  syncwire_peer_transmit_frames_total: 'COUNTER',
  syncwire_peer_bad_frames_total: 'COUNTER',
  syncwire_peer_poll_rounds_total: 'COUNTER',
  syncwire_peer_reconnects_total: 'COUNTER',
  syncwire_peer_seal_failures_total: 'COUNTER',
  syncwire_peer_seal_replays_total: 'COUNTER',
  syncwire_peer_unsealed_dropped_total: 'COUNTER',
  syncwire_peer_rehandshakes_total: 'COUNTER',
  syncwire_peer_sealed: 'GAUGE',
  syncwire_peer_behind_commands: 'GAUGE',
  syncwire_peer_last_sync_age_seconds: 'GAUGE',
  syncwire_peer_last_contact_age_seconds: 'GAUGE',
  syncwire_peer_poll_timeouts_consecutive: 'GAUGE',
  syncwire_transport_links: 'GAUGE',
  syncwire_subscriptions_used: 'GAUGE',
  syncwire_subscriptions_capacity: 'GAUGE',
  syncwire_ingest_commands_total: 'COUNTER',
  syncwire_ingest_received_commands_total: 'COUNTER',
  syncwire_store_commands: 'GAUGE',
  syncwire_store_bytes: 'GAUGE',
  syncwire_push_latency_seconds: 'HISTOGRAM',
  syncwire_apply_latency_seconds: 'HISTOGRAM',
};

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LVAL = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const LPAIR = `[a-zA-Z_][a-zA-Z0-9_]*=${LVAL}`;
const SAMPLE = new RegExp(`^(${NAME})(\\{${LPAIR}(?:,${LPAIR})*\\})? (NaN|[+-]Inf|-?\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)$`);

/**
 * The format's rules that the (lenient) parser does not enforce: every line is HELP, TYPE or a
 * well-formed sample; HELP then TYPE once per family; a family's samples follow it contiguously
 * under its own name (histograms: `_bucket`, `_sum`, `_count`); no series twice. Returns problems.
 */
function lint(text: string): string[] {
  const problems: string[] = [];
  if (!text.endsWith('\n')) problems.push('no final newline');
  const seenFamilies = new Set<string>();
  const seenSeries = new Set<string>();
  let fam = '';
  let type = '';
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    const typ = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
    if (help) {
      if (seenFamilies.has(help[1]!)) problems.push(`family twice: ${help[1]}`);
      seenFamilies.add(help[1]!);
      fam = help[1]!;
      type = '';
      if (/\\[^\\n]/.test(help[2]!.replace(/\\\\/g, ''))) problems.push(`bad HELP escape: ${line}`);
    } else if (typ) {
      if (typ[1] !== fam || type !== '') problems.push(`TYPE out of place: ${line}`);
      type = typ[2]!;
    } else {
      const m = SAMPLE.exec(line);
      if (!m) {
        problems.push(`bad line: ${JSON.stringify(line)}`);
        continue;
      }
      const ok = type === 'histogram' ? [`${fam}_bucket`, `${fam}_sum`, `${fam}_count`].includes(m[1]!) : m[1] === fam;
      if (!ok) problems.push(`sample outside its family: ${line}`);
      const series = `${m[1]}${m[2] ?? ''}`;
      if (seenSeries.has(series)) problems.push(`series twice: ${series}`);
      seenSeries.add(series);
    }
  }
  return problems;
}

const byName = (fams: ParsedFamily[]): Map<string, ParsedFamily> => new Map(fams.map((f) => [f.name, f]));
const num = (s: string | undefined): number => (s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s));

/** A histogram as agent/sync/latency-histogram.ts keeps it, from `values` ms. */
function hist(values: number[]): MetricsHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.observe(v);
  return h.snapshot();
}

function fakePeer(id: string, n: number, over: Partial<MetricsPeer> = {}): MetricsPeer {
  return {
    id, authenticated: true, sealed: true, bytesIn: n, bytesOut: 2 * n, framesIn: 1, framesOut: 1, badFrames: 0, sealFailures: 0, replays: 0,
    unsealedDropped: 0, rehandshakes: 0, sync: { rounds: 1, timeoutsInARow: 0 }, lastContactMs: 1_000, lastSyncMs: 500, reconnects: 1, behind: n, ...over,
  };
}

function fakeInput(peers: MetricsPeer[], over: Partial<MetricsInput> = {}): MetricsInput {
  return {
    version: '1.2.3', commands: 3, storeBytes: 100, rssBytes: 50e6, transports: [{ url: 'tcp-listen://127.0.0.1:7000', links: ['a'] }], peers,
    subscriptions: { used: 1, capacity: 128 }, ingest: { received: 4, appended: 3, duplicates: 1, orphaned: 0, rejected: 0 },
    latency: { pushMs: hist([0.5, 3, 40]), applyMs: hist([2]) }, ...over,
  };
}

t.test('two synced engines: every family parses with its type and plausible values', async (t) => {
  // B on a disk store, so the store's size on disk is there to report.
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ids = [generateIdentity(), generateIdentity()];
  const trust = { mode: 'list' as const, keys: ids.map((i) => i.publicKey) };
  const store = await DiskStore.open(dir, { durability: { mode: 'none' } });
  const a = new Engine({ identity: ids[0]!, store: new MemoryStore(), trust, ...FAST });
  const b = new Engine({ identity: ids[1]!, store, trust, ...FAST });
  t.teardown(async () => {
    await a.close();
    await b.close();
    await store.close();
  });
  connect(a, b);
  await until(() => b.snapshot().peers.some((p) => p.authenticated && p.subscribed), 5000, 'B subscribed to A');
  for (let i = 0; i < 5; i++) await a.commit(new TextEncoder().encode(`{"n":${i}}`));
  t.ok(await converge([a, b]), 'converged');
  await until(() => b.snapshot().ingest.appended >= 5, 5000, 'B appended the 5 commands');
  const snap = takeSnapshot({ engine: b, role: 'agent', startedAt: Date.now() - 3000, dataDir: dir, durability: 'none', transports: [{ url: 'memory:', localPort: undefined, links: new Set() }] });
  const text = renderMetrics(snap);
  t.same(lint(text), [], 'strict format rules hold');
  const fams = byName(parse(text));
  for (const [name, type] of Object.entries(FAMILIES)) t.equal(fams.get(name)?.type, type, `${name} is a ${type}`);
  t.equal(fams.size, Object.keys(FAMILIES).length, 'no family beyond the documented ones');

  const peerA = a.peerId;
  const sample = (name: string, label?: [string, string]): number => {
    const m = fams.get(name)!.metrics.find((x) => (label === undefined ? true : x.labels?.[label[0]] === label[1]));
    return num(m?.value);
  };
  t.equal(sample('syncwire_build_info', ['version', snap.version]), 1);
  t.match(snap.version, /^\d+\.\d+\.\d+/);
  t.ok(sample('syncwire_store_bytes') > 0, 'store bytes > 0 on a disk store');
  t.equal(sample('syncwire_peers_up'), 1);
  t.ok(sample('syncwire_peer_receive_bytes_total', ['peer', peerA]) > 0, 'bytes in > 0 after the sync');
  t.ok(sample('syncwire_peer_transmit_bytes_total', ['peer', peerA]) > 0, 'bytes out > 0 after the sync');
  t.ok(sample('syncwire_peer_receive_frames_total', ['peer', peerA]) > 0, 'frames in > 0');
  t.equal(sample('syncwire_peer_bad_frames_total', ['peer', peerA]), 0);
  t.equal(sample('syncwire_store_commands'), 5);
  t.ok(sample('syncwire_ingest_commands_total', ['result', 'appended']) >= 5, 'appended counted');
  t.ok(sample('syncwire_ingest_received_commands_total') >= 5, 'received counted');
  t.equal(sample('syncwire_subscriptions_capacity'), snap.subscriptions.capacity);
  t.ok(sample('process_resident_memory_bytes') > 1e6, 'RSS in bytes');
  const start = sample('process_start_time_seconds');
  t.ok(start > Date.now() / 1000 - 3600 && start <= Date.now() / 1000, 'process start time in epoch seconds');
  t.equal(num(byName(parse(renderMetrics(snap))).get('process_start_time_seconds')!.metrics[0]!.value), start, 'the same at every scrape');
  t.equal(sample('syncwire_transport_links', ['transport', 'memory:']), 0);
  t.same(fams.get('syncwire_ingest_commands_total')!.metrics.map((m) => m.labels?.result), ['appended', 'duplicate', 'orphaned', 'rejected']);

  // Push latency is the pusher's (A's), apply latency the receiver's (B's).
  const snapA = takeSnapshot({ engine: a, role: 'gateway', startedAt: Date.now(), dataDir: '', durability: 'none', transports: [] });
  const famsA = byName(parse(renderMetrics(snapA)));
  for (const [name, which, src, f] of [
    ['syncwire_push_latency_seconds', 'pushMs', snapA, famsA],
    ['syncwire_apply_latency_seconds', 'applyMs', snap, fams],
  ] as const) {
    const [h] = f.get(name)!.metrics;
    // Bucket keys in bound order (object keys that look like integers would come first).
    const les = Object.keys(h!.buckets!).sort((x, y) => num(x) - num(y));
    t.equal(les[les.length - 1], '+Inf', `${name} ends at +Inf`);
    t.same(les.slice(0, -1).map(Number), src.latency[which].bounds.map((b) => b / 1000), `${name} bounds are the engine's, in seconds`);
    const counts = les.map((le) => num(h!.buckets![le]));
    t.ok(counts.every((c, i) => i === 0 || c >= counts[i - 1]!), `${name} buckets are cumulative`);
    t.equal(counts[counts.length - 1], num(h!.count), `${name} +Inf bucket = count`);
    t.equal(num(h!.count), src.latency[which].count, `${name} is the engine's histogram`);
    t.ok(num(h!.count) > 0, `${name} has observations`);
    t.ok(Math.abs(num(h!.sum) - src.latency[which].sumMs / 1000) < 1e-9, `${name} sum in seconds`);
  }
});

t.test('hostile label values (quote, backslash, newline) round-trip through the parser', async (t) => {
  const hostile = ['a"b', 'c\\d', 'e\nf', '\\"\n\\n', 'tcp://u@h:1/?q="x"\\y', '', '{}=,'];
  const input = fakeInput(
    hostile.map((id, i) => fakePeer(id, i + 1)),
    { version: hostile.join('|'), transports: hostile.map((url) => ({ url, links: [1] })) },
  );
  const text = renderMetrics(input);
  t.same(lint(text), []);
  const fams = byName(parse(text));
  t.equal(fams.get('syncwire_build_info')!.metrics[0]!.labels!.version, hostile.join('|'));
  t.same(fams.get('syncwire_transport_links')!.metrics.map((m) => m.labels!.transport).sort(), [...hostile].sort());
  t.same(fams.get('syncwire_peer_receive_bytes_total')!.metrics.map((m) => m.labels!.peer).sort(), [...hostile].sort());
  t.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});

t.test('1,500 peers: at most 1,001 peer label values, the rest summed into _other', async (t) => {
  const ids = Array.from({ length: 1500 }, (_, i) => (i * 7919).toString(16).padStart(16, '0'));
  const text = renderMetrics(fakeInput(ids.map((id, i) => fakePeer(id, i))));
  t.same(lint(text), []);
  const fams = byName(parse(text));
  const bytes = fams.get('syncwire_peer_receive_bytes_total')!.metrics;
  const values = new Set(bytes.map((m) => m.labels!.peer));
  t.equal(values.size, MAX_PEER_SERIES + 1);
  t.equal(bytes[bytes.length - 1]!.labels!.peer, '_other', '_other last');
  const sorted = [...ids].sort();
  t.same(bytes.slice(0, -1).map((m) => m.labels!.peer), sorted.slice(0, MAX_PEER_SERIES), 'the first 1,000 by id, in id order');
  const rest = sorted.slice(MAX_PEER_SERIES).reduce((s, id) => s + ids.indexOf(id), 0);
  t.equal(num(bytes[bytes.length - 1]!.value), rest, '_other holds the sum of the rest');
  t.equal(num(fams.get('syncwire_peers_up')!.metrics[0]!.value), 1500);
  t.equal(num(fams.get('syncwire_peers_folded')!.metrics[0]!.value), 500);
  const behind = fams.get('syncwire_peer_behind_commands')!.metrics;
  t.equal(num(behind[behind.length - 1]!.value), Math.max(...sorted.slice(MAX_PEER_SERIES).map((id) => ids.indexOf(id))), '_other lag is the worst');
  for (const f of fams.values()) t.ok(new Set(f.metrics.map((m) => m.labels?.peer)).size <= MAX_PEER_SERIES + 1, `${f.name} bounded`);
});

t.test('a peer linked twice is one series; handshakes are counted, not labelled; output is deterministic', async (t) => {
  const p = 'aaaaaaaaaaaaaaaa';
  const peers = [
    fakePeer(p, 10, { reconnects: 2, lastContactMs: 900, behind: 4 }),
    fakePeer(p, 5, { reconnects: 2, lastContactMs: 990, behind: 6, sealed: false }),
    fakePeer('bbbbbbbbbbbbbbbb', 1),
    fakePeer('(handshake)', 99, { authenticated: false }),
  ];
  const text = renderMetrics(fakeInput(peers), { nowMs: 1_000 });
  t.same(lint(text), []);
  const fams = byName(parse(text));
  const of = (name: string): Record<string, number> => Object.fromEntries(fams.get(name)!.metrics.map((m) => [m.labels!.peer!, num(m.value)]));
  t.same(of('syncwire_peer_receive_bytes_total'), { [p]: 15, bbbbbbbbbbbbbbbb: 1 }, 'link counters add up');
  t.same(of('syncwire_peer_reconnects_total'), { [p]: 2, bbbbbbbbbbbbbbbb: 1 }, 'a per-peer counter is not doubled');
  t.same(of('syncwire_peer_last_contact_age_seconds'), { [p]: 0.01, bbbbbbbbbbbbbbbb: 0 }, 'the freshest link');
  t.same(of('syncwire_peer_sealed'), { [p]: 0, bbbbbbbbbbbbbbbb: 1 });
  t.same(of('syncwire_peer_behind_commands'), { [p]: 4, bbbbbbbbbbbbbbbb: 1 });
  t.equal(num(fams.get('syncwire_peers_up')!.metrics[0]!.value), 2);
  t.equal(num(fams.get('syncwire_sessions_handshaking')!.metrics[0]!.value), 1);
  const shuffled = fakeInput([...peers].reverse(), { transports: [{ url: 'z', links: [] }, { url: 'a', links: [1, 2] }] });
  const sorted = fakeInput(peers, { transports: [{ url: 'a', links: [1, 2] }, { url: 'z', links: [] }] });
  t.equal(renderMetrics(shuffled, { nowMs: 1_000 }), renderMetrics(sorted, { nowMs: 1_000 }), 'input order does not matter');
  const noAges = renderMetrics(fakeInput([fakePeer(p, 1, { lastSyncMs: null, lastContactMs: null, behind: null })]), { nowMs: 1_000 });
  t.notMatch(noAges, /syncwire_peer_last_sync_age_seconds\{/, 'no age before the first sync');
  t.notMatch(noAges, /syncwire_peer_behind_commands\{/, 'no lag while unknown');
});

t.test('prom-text: values, names, histogram labels', async (t) => {
  t.same([NaN, Infinity, -Infinity, 0, 1.5, 1e21, -3].map(formatValue), ['NaN', '+Inf', '-Inf', '0', '1.5', '1e+21', '-3']);
  t.throws(() => new PromWriter().family('bad-name', 'gauge', 'x'), PromNameError);
  t.throws(() => labels([['__reserved', 'x']]), PromNameError);
  t.throws(() => labels([['1x', 'x']]), PromNameError);
  const w = new PromWriter().family('h_seconds', 'histogram', 'multi\nline \\ help');
  w.histogram({ bounds: [0.1, 1], cumulative: [1, 2, 3], sum: 4, count: 3 }, labels([['a', 'b']]));
  const text = w.toString();
  t.same(lint(text), []);
  t.match(text, '# HELP h_seconds multi\\nline \\\\ help\n');
  t.match(text, 'h_seconds_bucket{a="b",le="+Inf"} 3\n');
  const [f] = parse(text);
  t.same(f!.metrics[0]!.buckets, { '0.1': '1', '1': '2', '+Inf': '3' });
  t.equal(f!.help, 'multi\nline \\ help');
});

t.test('any input renders text the parser accepts and the format rules allow (property)', async (t) => {
  const n = fc.oneof(fc.nat(), fc.double(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER, NaN, Infinity, -1));
  const text = fc.string({ unit: 'binary', maxLength: 12 });
  const h = fc.record({
    bounds: fc.constant([1, 10, 100]),
    cumulative: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }).map((a) => a.map((_, i) => a.slice(0, i + 1).reduce((x, y) => x + y, 0))),
    sumMs: n,
    count: fc.nat(),
  }).map((x) => ({ ...x, count: x.cumulative[3]! }));
  const peer = fc.record({
    id: fc.oneof(text, fc.constantFrom('aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', '_other')), authenticated: fc.boolean(), sealed: fc.boolean(),
    bytesIn: n, bytesOut: n, framesIn: n, framesOut: n, badFrames: n, sealFailures: n, replays: n, unsealedDropped: n, rehandshakes: n,
    sync: fc.record({ rounds: n, timeoutsInARow: n }), lastContactMs: fc.option(n), lastSyncMs: fc.option(n), reconnects: n, behind: fc.option(n),
  });
  const input = fc.record({
    version: text, commands: n, storeBytes: fc.option(n), rssBytes: n,
    transports: fc.array(fc.record({ url: text, links: fc.array(fc.nat(), { maxLength: 3 }) }), { maxLength: 4 }),
    peers: fc.array(peer, { maxLength: 12 }),
    subscriptions: fc.record({ used: n, capacity: n }),
    ingest: fc.record({ received: n, appended: n, duplicates: n, orphaned: n, rejected: n }),
    latency: fc.record({ pushMs: h, applyMs: h }),
  }, { requiredKeys: ['commands', 'transports', 'peers', 'subscriptions', 'ingest'] });
  fc.assert(
    fc.property(input, fc.integer({ min: 1, max: 5 }), (inp, maxPeers) => {
      const out = renderMetrics(inp, { nowMs: 1e12, maxPeers });
      const problems = lint(out);
      if (problems.length > 0) throw new Error(problems.join('; '));
      const fams = parse(out);
      // Families that need input that was absent are left out; nothing else is.
      const expected = Object.keys(FAMILIES).length - (inp.storeBytes == null ? 1 : 0);
      if (fams.length !== expected) throw new Error(`${fams.length} families, expected ${expected}`);
      const peerLabels = new Set(fams.flatMap((f) => f.metrics.map((m) => m.labels?.peer)).filter((x) => x !== undefined));
      return peerLabels.size <= maxPeers + 1;
    }),
    { numRuns: 300 },
  );
  t.pass('property held');
});
