/**
 * `GET /metrics` of a protocol-2 agent (agent/api/metrics-v2.ts) and the text encoder
 * (agent/api/prom-text.ts): on two real EngineV2s synced over a memory link, every family of the
 * documented set parses with its type (parse-prometheus-text-format) and plausible values, and
 * the format rules the lenient parser does not check hold (HELP/TYPE once per family, contiguous
 * samples, no series twice); hostile label values round-trip; 1,500 peers and 1,000 scopes stay
 * bounded (`_other`); a peer linked twice is one series and output does not depend on input
 * order; any input renders valid text (property). The 256-scope fold and the status fields
 * behind the per-scope families: test/metrics-v2.test.ts.
 */
import t from 'tap';
import fc from 'fast-check';
import parse, { type ParsedFamily } from 'parse-prometheus-text-format';
import { MAX_PEER_SERIES, MAX_SCOPE_SERIES, OTHER, renderMetricsV2, type MetricsPeerV2, type MetricsScope, type MetricsV2Input } from '../agent/api/metrics-v2.js';
import { escapeLabelValue, formatValue, labels, PromNameError, PromWriter } from '../agent/api/prom-text.js';
import { takeSnapshotV2 } from '../agent/cli/snapshot-v2.js';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity } from '../protocol/keys.js';
import { until } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

/** Every family renderMetricsV2 writes, with its type (the contract README documents). */
const FAMILIES: Record<string, ParsedFamily['type']> = {
  syncwire_build_info: 'GAUGE',
  process_start_time_seconds: 'GAUGE',
  process_resident_memory_bytes: 'GAUGE',
  syncwire_scopes: 'GAUGE',
  syncwire_scopes_folded: 'GAUGE',
  syncwire_scope_commands: 'GAUGE',
  syncwire_scope_retained: 'GAUGE',
  syncwire_scope_pinned: 'GAUGE',
  syncwire_scope_bytes: 'GAUGE',
  syncwire_scope_horizon_entries: 'GAUGE',
  syncwire_scope_gaps_total: 'COUNTER',
  syncwire_scope_active_peers: 'GAUGE',
  syncwire_peers_up: 'GAUGE',
  syncwire_sessions_handshaking: 'GAUGE',
  syncwire_peer_receive_bytes_total: 'COUNTER',
  syncwire_peer_transmit_bytes_total: 'COUNTER',
  syncwire_peer_receive_frames_total: 'COUNTER',
  syncwire_peer_transmit_frames_total: 'COUNTER',
  syncwire_peer_unknown_scope_total: 'COUNTER',
  syncwire_peer_active_scopes: 'GAUGE',
  syncwire_version_refused_total: 'COUNTER',
  syncwire_unknown_scope_total: 'COUNTER',
  syncwire_not_a_member_total: 'COUNTER',
  syncwire_dead_link_closes_total: 'COUNTER',
  syncwire_pushes_dropped_total: 'COUNTER',
  syncwire_held_skips_total: 'COUNTER',
  syncwire_scope_joins_rejected_total: 'COUNTER',
  syncwire_subscriptions_used: 'GAUGE',
  syncwire_subscriptions_capacity: 'GAUGE',
  syncwire_transport_links: 'GAUGE',
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

const valueOf = (m: ParsedFamily['metrics'][number] | undefined): number => num(m && 'value' in m ? m.value : undefined);
const labelsOf = (m: ParsedFamily['metrics'][number]): Record<string, string> => ('labels' in m ? (m.labels ?? {}) : {});

function fakePeer(id: string, n: number, over: Partial<MetricsPeerV2> = {}): MetricsPeerV2 {
  return { id, authenticated: true, bytesIn: n, bytesOut: 2 * n, framesIn: 1, framesOut: 1, unknownScope: 0, scopes: [{}], ...over };
}

const fakeScope = (name: string, n: number): MetricsScope => ({ name, commands: n, retained: n, pinned: 1, bytes: n * 10, horizon: 0, gaps: 0, activePeers: 1 });

function fakeInput(peers: MetricsPeerV2[], over: Partial<MetricsV2Input> = {}): MetricsV2Input {
  return {
    version: '1.2.3', rssBytes: 50e6, scopes: [fakeScope('app/x', 3)], peers, transports: [{ url: 'tcp-listen://127.0.0.1:7000', links: ['a'] }],
    subscriptions: { used: 1, capacity: 128 }, scopeJoinsRejected: 0, versionRefused: 0, unknownScope: 0, notAMember: 0, deadLinkCloses: 0, pushesDropped: 0, ...over,
  };
}

t.test('two synced EngineV2s: every family parses with its type and plausible values', async (t) => {
  const [ai, bi] = [generateIdentity(), generateIdentity()];
  const trust = { mode: 'list' as const, keys: [ai.publicKey, bi.publicKey] };
  const a = await EngineV2.open({ identity: ai, trust, tuning: FAST_V2 });
  const b = await EngineV2.open({ identity: bi, trust, tuning: FAST_V2, scopes: { join: ['app/x'] } });
  t.teardown(async () => Promise.all([a.close(), b.close()]));
  await a.createScope({ name: 'app/x', members: [{ publicKey: ai.publicKey, roles: Role.Read | Role.Write | Role.Admin }, { publicKey: bi.publicKey, roles: Role.Read }] });
  const [la, lb] = createMemoryLinkPair();
  a.attach(la);
  b.attach(lb);
  for (let i = 0; i < 5; i++) await a.commit('app/x', new TextEncoder().encode(`{"n":${i}}`));
  await until(() => (b.scope('app/x')?.store.size ?? 0) === 6, 20_000, 'B holds the genesis and the 5 commands');
  const snapOf = (e: EngineV2) => takeSnapshotV2({ engine: e, legacy: null, role: 'agent', startedAt: Date.now() - 3000, dataDir: '', durability: 'none', transports: [{ url: 'memory:', localPort: undefined, links: new Set() }] });
  await until(() => snapOf(b).peers.some((p) => p.scopes.some((s) => s.name === 'app/x')), 20_000, 'the scope is active with A');
  const snap = snapOf(b);
  const text = renderMetricsV2(snap);
  t.same(lint(text), [], 'strict format rules hold');
  const fams = byName(parse(text));
  for (const [name, type] of Object.entries(FAMILIES)) t.equal(fams.get(name)?.type, type, `${name} is a ${type}`);
  t.equal(fams.size, Object.keys(FAMILIES).length, 'no family beyond the documented ones');

  const sample = (name: string, label?: [string, string]): number =>
    valueOf(fams.get(name)!.metrics.find((x) => (label === undefined ? true : labelsOf(x)[label[0]] === label[1])));
  t.equal(sample('syncwire_build_info', ['version', snap.version]), 1);
  t.equal(labelsOf(fams.get('syncwire_build_info')!.metrics[0]!).protocol, '2');
  t.match(snap.version, /^\d+\.\d+\.\d+/);
  t.equal(sample('syncwire_peers_up'), 1);
  t.equal(sample('syncwire_sessions_handshaking'), 0);
  t.ok(sample('syncwire_peer_receive_bytes_total', ['peer', a.peerId]) > 0, 'bytes in > 0 after the sync');
  t.ok(sample('syncwire_peer_transmit_bytes_total', ['peer', a.peerId]) > 0, 'bytes out > 0 after the sync');
  t.ok(sample('syncwire_peer_receive_frames_total', ['peer', a.peerId]) > 0, 'frames in > 0');
  t.equal(sample('syncwire_peer_unknown_scope_total', ['peer', a.peerId]), 0);
  t.equal(sample('syncwire_peer_active_scopes', ['peer', a.peerId]), 1);
  t.equal(sample('syncwire_scopes'), 1);
  t.equal(sample('syncwire_scope_commands', ['scope', 'app/x']), 6, 'the genesis and five commands');
  t.equal(sample('syncwire_scope_retained', ['scope', 'app/x']), 6);
  t.ok(sample('syncwire_scope_bytes', ['scope', 'app/x']) > 5 * 10, 'the bytes of the retained encodings (memory store)');
  t.equal(sample('syncwire_scope_active_peers', ['scope', 'app/x']), 1);
  t.equal(sample('syncwire_subscriptions_capacity'), snap.subscriptions.capacity);
  t.ok(sample('process_resident_memory_bytes') > 1e6, 'RSS in bytes');
  const start = sample('process_start_time_seconds');
  t.ok(start > Date.now() / 1000 - 3600 && start <= Date.now() / 1000, 'process start time in epoch seconds');
  t.equal(valueOf(byName(parse(renderMetricsV2(snap))).get('process_start_time_seconds')!.metrics[0]), start, 'the same at every scrape');
  t.equal(sample('syncwire_transport_links', ['transport', 'memory:']), 0);
});

t.test('hostile label values (quote, backslash, newline) round-trip through the parser', async (t) => {
  const hostile = ['a"b', 'c\\d', 'e\nf', '\\"\n\\n', 'tcp://u@h:1/?q="x"\\y', '', '{}=,'];
  const input = fakeInput(
    hostile.map((id, i) => fakePeer(id, i + 1)),
    { version: hostile.join('|'), transports: hostile.map((url) => ({ url, links: [1] })) },
  );
  const text = renderMetricsV2(input);
  t.same(lint(text), []);
  const fams = byName(parse(text));
  t.equal(labelsOf(fams.get('syncwire_build_info')!.metrics[0]!).version, hostile.join('|'));
  t.same(fams.get('syncwire_transport_links')!.metrics.map((m) => labelsOf(m).transport).sort(), [...hostile].sort());
  t.same(fams.get('syncwire_peer_receive_bytes_total')!.metrics.map((m) => labelsOf(m).peer).sort(), [...hostile].sort());
  t.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});

t.test('1,500 peers and 1,000 scopes: at most 1,001 peer and 257 scope label values, the rest summed into _other', async (t) => {
  const ids = Array.from({ length: 1500 }, (_, i) => (i * 7919).toString(16).padStart(16, '0'));
  const scopes = Array.from({ length: 1000 }, (_, i) => fakeScope(`device/${i.toString(16).padStart(16, '0')}`, i));
  const text = renderMetricsV2(fakeInput(ids.map((id, i) => fakePeer(id, i)), { scopes }));
  t.same(lint(text), []);
  const fams = byName(parse(text));
  const bytes = fams.get('syncwire_peer_receive_bytes_total')!.metrics;
  const values = new Set(bytes.map((m) => labelsOf(m).peer));
  t.equal(values.size, MAX_PEER_SERIES + 1);
  t.equal(labelsOf(bytes[bytes.length - 1]!).peer, OTHER, '_other last');
  const sorted = [...ids].sort();
  t.same(bytes.slice(0, -1).map((m) => labelsOf(m).peer), sorted.slice(0, MAX_PEER_SERIES), 'the first 1,000 by id, in id order');
  const rest = sorted.slice(MAX_PEER_SERIES).reduce((s, id) => s + ids.indexOf(id), 0);
  t.equal(valueOf(bytes[bytes.length - 1]), rest, '_other holds the sum of the rest');
  t.equal(valueOf(fams.get('syncwire_peers_up')!.metrics[0]), 1500);
  for (const f of fams.values()) {
    t.ok(new Set(f.metrics.map((m) => labelsOf(m).peer)).size <= MAX_PEER_SERIES + 1, `${f.name}: peers bounded`);
    t.ok(new Set(f.metrics.map((m) => labelsOf(m).scope)).size <= MAX_SCOPE_SERIES + 1, `${f.name}: scopes bounded`);
  }
  t.equal(valueOf(fams.get('syncwire_scopes_folded')!.metrics[0]), 1000 - MAX_SCOPE_SERIES);
  const bound = 7 * (MAX_SCOPE_SERIES + 1) + 6 * (MAX_PEER_SERIES + 1) + 3 * Object.keys(FAMILIES).length;
  t.ok(text.split('\n').length <= bound, `a bounded scrape: ${text.split('\n').length} lines (bound ${bound})`);
});

t.test('a peer linked twice is one series; handshakes are counted, not labelled; output is deterministic', async (t) => {
  const p = 'aaaaaaaaaaaaaaaa';
  const peers = [
    fakePeer(p, 10, { unknownScope: 2 }),
    fakePeer(p, 5, { unknownScope: 1, scopes: [] }),
    fakePeer('bbbbbbbbbbbbbbbb', 1),
    fakePeer('(handshake)', 99, { authenticated: false }),
  ];
  const text = renderMetricsV2(fakeInput(peers));
  t.same(lint(text), []);
  const fams = byName(parse(text));
  const of = (name: string): Record<string, number> => Object.fromEntries(fams.get(name)!.metrics.map((m) => [labelsOf(m).peer!, valueOf(m)]));
  t.same(of('syncwire_peer_receive_bytes_total'), { [p]: 15, bbbbbbbbbbbbbbbb: 1 }, 'link counters add up');
  t.same(of('syncwire_peer_unknown_scope_total'), { [p]: 3, bbbbbbbbbbbbbbbb: 0 });
  t.same(of('syncwire_peer_active_scopes'), { [p]: 1, bbbbbbbbbbbbbbbb: 1 });
  t.equal(valueOf(fams.get('syncwire_peers_up')!.metrics[0]), 2);
  t.equal(valueOf(fams.get('syncwire_sessions_handshaking')!.metrics[0]), 1);
  const shuffled = fakeInput([...peers].reverse(), { transports: [{ url: 'z', links: [] }, { url: 'a', links: [1, 2] }], scopes: [fakeScope('b/y', 1), fakeScope('app/x', 3)] });
  const sorted = fakeInput(peers, { transports: [{ url: 'a', links: [1, 2] }, { url: 'z', links: [] }], scopes: [fakeScope('app/x', 3), fakeScope('b/y', 1)] });
  t.equal(renderMetricsV2(shuffled, { }), renderMetricsV2(sorted), 'input order does not matter');
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
  const peer = fc.record({
    // A v2 peer id is 16 hex (an authenticated session) or `(handshake)`: never `_other`.
    id: fc.oneof(text.filter((x) => x !== OTHER), fc.constantFrom('aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', '(handshake)')), authenticated: fc.boolean(),
    bytesIn: n, bytesOut: n, framesIn: n, framesOut: n, unknownScope: n, scopes: fc.array(fc.constant({}), { maxLength: 3 }),
  });
  const scope = fc.record({
    // A scope name never starts with `_` (the config and genesis patterns).
    name: fc.oneof(text.filter((x) => !x.startsWith('_')), fc.constantFrom('device/aaaaaaaaaaaaaaaa', 'fleet/acme', 'legacy/v1')), commands: n, retained: n, pinned: n,
    bytes: fc.option(n), horizon: n, gaps: n, activePeers: n,
  });
  const input = fc.record({
    version: text, rssBytes: n,
    scopes: fc.uniqueArray(scope, { maxLength: 12, selector: (s) => s.name }),
    peers: fc.array(peer, { maxLength: 12 }),
    transports: fc.array(fc.record({ url: text, links: fc.array(fc.nat(), { maxLength: 3 }) }), { maxLength: 4 }),
    subscriptions: fc.record({ used: n, capacity: n }),
    scopeJoinsRejected: n, versionRefused: n, unknownScope: n, notAMember: n, deadLinkCloses: n, pushesDropped: n,
  }, { requiredKeys: ['scopes', 'peers', 'transports', 'subscriptions', 'scopeJoinsRejected', 'versionRefused', 'unknownScope', 'notAMember', 'deadLinkCloses', 'pushesDropped'] });
  fc.assert(
    fc.property(input, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), (inp, maxPeers, maxScopes) => {
      const out = renderMetricsV2(inp, { maxPeers, maxScopes });
      const problems = lint(out);
      if (problems.length > 0) throw new Error(problems.join('; '));
      const fams = parse(out);
      if (fams.length !== Object.keys(FAMILIES).length) throw new Error(`${fams.length} families, expected ${Object.keys(FAMILIES).length}`);
      const values = (key: string): Set<string> => new Set(fams.flatMap((f) => f.metrics.map((m) => labelsOf(m)[key])).filter((x): x is string => x !== undefined));
      return values('peer').size <= maxPeers + 1 && values('scope').size <= maxScopes + 1;
    }),
    { numRuns: 300 },
  );
  t.pass('property held');
});
