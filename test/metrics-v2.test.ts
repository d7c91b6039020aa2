/**
 * `/metrics` and status of a protocol-2 agent (docs/design/v2-scopes.md §6.2): the exposition
 * parses (parse-prometheus-text-format), per-scope series are bounded at MAX_SCOPE_SERIES plus
 * `scope="_other"` (summed) with the shared scopes kept before device scopes, peers' links are
 * summed; and on real engines over memory links, status lists per peer its active scopes and
 * their subscriptions, a scope's pinned/retained/retention after pruning, the gap a late joiner
 * of a pruned scope gets, and version refusals that outlive their session.
 */
import t from 'tap';
import parse, { type ParsedFamily } from 'parse-prometheus-text-format';
import { MAX_SCOPE_SERIES, OTHER, renderMetricsV2, type MetricsScope, type MetricsV2Input } from '../agent/api/metrics-v2.js';
import { takeSnapshotV2 } from '../agent/cli/snapshot-v2.js';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity } from '../protocol/keys.js';
import { helloV2 } from '../testkit/fuzz-inputs-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

const byName = (fams: ParsedFamily[]): Map<string, ParsedFamily> => new Map(fams.map((f) => [f.name, f]));
const samples = (f: ParsedFamily | undefined): Map<string, number> =>
  new Map((f?.metrics ?? []).map((m) => ['labels' in m ? Object.values(m.labels ?? {}).join(',') : '', Number('value' in m ? m.value : NaN)]));

const scope = (name: string, n: number, bytes: number | null = n * 100): MetricsScope => ({ name, commands: n, retained: n, pinned: 1, bytes, horizon: 0, gaps: n % 2, heldSkips: n % 3, activePeers: 1 });
const input = (scopes: MetricsScope[], peers: MetricsV2Input['peers'] = []): MetricsV2Input => ({
  version: '9.9.9', rssBytes: 1, scopes, peers, transports: [], subscriptions: { used: 0, capacity: 128 }, scopeJoinsRejected: 0, versionRefused: 2, unknownScope: 3, notAMember: 4, deadLinkCloses: 5, pushesDropped: 6,
});

t.test('300 scopes: 256 series of their own, the rest summed under scope="_other"', async (t) => {
  const devices = Array.from({ length: 298 }, (_, i) => scope(`device/${i.toString(16).padStart(16, '0')}`, i + 1));
  const all = [...devices, scope('fleet/acme', 5000), scope('legacy/v1', 7, null)];
  const text = renderMetricsV2(input(all));
  const fams = byName(parse(text));
  const commands = samples(fams.get('syncwire_scope_commands'));
  t.equal(MAX_SCOPE_SERIES, 256);
  t.equal(commands.size, 257, '256 scopes and _other');
  t.equal(commands.get('fleet/acme'), 5000, 'the fleet scope keeps its series beside 298 device scopes');
  t.equal(commands.get('legacy/v1'), 7);
  const kept = devices.slice(0, 254);
  t.ok(kept.every((d) => commands.has(d.name)), 'device scopes fill the rest, by name');
  const folded = devices.slice(254);
  t.equal(commands.get(OTHER), folded.reduce((n, d) => n + d.commands, 0), '_other is the sum of the 44 folded scopes');
  t.equal(samples(fams.get('syncwire_scopes_folded')).get(''), 44);
  t.equal(samples(fams.get('syncwire_scopes')).get(''), 300);
  t.equal(samples(fams.get('syncwire_scope_gaps_total')).get(OTHER), folded.reduce((n, d) => n + d.gaps, 0));
  t.equal(fams.get('syncwire_scope_gaps_total')?.type, 'COUNTER');
  const bytes = samples(fams.get('syncwire_scope_bytes'));
  t.notOk(bytes.has('legacy/v1'), 'a scope whose store keeps no byte total has no bytes sample');
  t.equal(bytes.size, 256, '255 scopes with bytes, and _other');
  t.equal(samples(fams.get('syncwire_version_refused_total')).get(''), 2);
  t.equal(samples(fams.get('syncwire_unknown_scope_total')).get(''), 3);
  t.equal(samples(fams.get('syncwire_not_a_member_total')).get(''), 4);
  t.equal(samples(fams.get('syncwire_dead_link_closes_total')).get(''), 5);
  t.equal(samples(fams.get('syncwire_pushes_dropped_total')).get(''), 6);
  t.equal(samples(fams.get('syncwire_held_skips_total')).get(''), all.reduce((n, s) => n + (s.heldSkips ?? 0), 0), 'held skips summed over every scope, folded ones included');
  t.equal(samples(fams.get('syncwire_build_info')).get(''), undefined, 'build_info is labelled');
  // Every family once, no series twice (the parser is lenient about both).
  const helps = text.split('\n').filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[2]);
  t.equal(new Set(helps).size, helps.length, 'no family twice');
  const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' ')));
  t.equal(new Set(series).size, series.length, 'no series twice');
  t.ok(text.endsWith('\n'));
});

t.test('a few scopes: no _other; peers by id with their links summed; handshaking sessions counted apart', async (t) => {
  const peer = (id: string, bytesIn: number, authenticated = true): MetricsV2Input['peers'][number] =>
    ({ id, authenticated, bytesIn, bytesOut: 1, framesIn: 1, framesOut: 1, unknownScope: 0, scopes: [{}] });
  const fams = byName(parse(renderMetricsV2(input([scope('app/x', 2)], [peer('aa', 10), peer('aa', 5), peer('bb', 1), peer('(handshake)', 9, false)]))));
  t.same([...samples(fams.get('syncwire_scope_commands'))], [['app/x', 2]]);
  t.equal(samples(fams.get('syncwire_scopes_folded')).get(''), 0);
  t.same([...samples(fams.get('syncwire_peer_receive_bytes_total'))], [['aa', 15], ['bb', 1]]);
  t.equal(samples(fams.get('syncwire_peer_active_scopes')).get('aa'), 2);
  t.equal(samples(fams.get('syncwire_peers_up')).get(''), 2);
  t.equal(samples(fams.get('syncwire_sessions_handshaking')).get(''), 1);
  const empty = byName(parse(renderMetricsV2(input([]))));
  t.equal(empty.get('syncwire_scope_commands')?.metrics.length, 0, 'a family without samples is still written');
});

t.test('status on real engines: active scopes and subscriptions per peer, pinned and retention, a gap, version refusals', async (t) => {
  const [gi, wi, di, vi] = [generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()];
  const gw = await EngineV2.open({
    identity: gi, trust: { mode: 'list', keys: [wi.publicKey, di.publicKey, vi.publicKey] }, tuning: FAST_V2,
    scopes: { max: Infinity, retention: { 'fleet/*': { commands: 3 } } },
  });
  const joiner = (identity: typeof gi) => EngineV2.open({ identity, trust: { mode: 'list', keys: [gi.publicKey] }, tuning: FAST_V2, scopes: { join: ['fleet/acme'] } });
  const [writer, dev] = await Promise.all([joiner(wi), joiner(di)]);
  t.teardown(async () => Promise.all([gw.close(), writer.close(), dev.close()]));
  await gw.createScope({
    name: 'fleet/acme', openRead: true,
    members: [{ publicKey: gi.publicKey, roles: Role.Read | Role.Write | Role.Admin }, { publicKey: wi.publicKey, roles: Role.Read | Role.Write }],
  });
  const snap = (e: EngineV2) => takeSnapshotV2({ engine: e, legacy: null, role: 'gateway', startedAt: Date.now(), dataDir: '', durability: 'always', transports: [] });
  // A writer's commands reach the gateway, which prunes them to 3 (its own would be protected, Q-3).
  const [wa, wb] = createMemoryLinkPair();
  gw.attach(wa);
  writer.attach(wb);
  await until(() => writer.scope('fleet/acme')?.joining === false, 20_000, 'the writer joined');
  for (let i = 0; i < 10; i++) await writer.commit('fleet/acme', new TextEncoder().encode(`config ${i}`));
  await until(() => (gw.scope('fleet/acme')?.store.size ?? 0) === 11 && gw.scope('fleet/acme')!.store.base > 0, 20_000, 'the gateway has them all and pruned');

  const fleet = snap(gw).scopes.find((s) => s.name === 'fleet/acme')!;
  t.equal(fleet.commands, 11, 'the genesis and ten commands were assigned handles');
  t.ok(fleet.base > 0, 'retention pruned: base moved');
  t.ok(fleet.pinned >= 1, 'below base the genesis (and any head pruning kept) is retained');
  t.equal(fleet.retained, fleet.commands - fleet.base + fleet.pinned);
  const h = gw.scope('fleet/acme')!;
  let counted = 0;
  for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) counted++;
  t.equal(fleet.retained, counted, 'retained as counting handle by handle gives');
  t.same(fleet.retention, { commands: 3, bytes: null, ageS: null, from: 'config', key: 'fleet/*' }, 'the resolved policy, unbounded as null');
  t.equal(typeof fleet.bytes, 'number', 'a memory store keeps its byte total');
  t.equal(fleet.activePeers, 1, 'active with the writer');

  const [a, b] = createMemoryLinkPair();
  gw.attach(a);
  dev.attach(b);
  await until(() => (dev.scope('fleet/acme')?.store.size ?? 0) > 0 && snap(gw).peers.some((p) => p.scopes.some((s) => s.name === 'fleet/acme')), 20_000, 'the device joined the fleet scope');
  const peer = snap(gw).peers.find((p) => p.id === dev.peerId)!;
  t.same(peer.scopes.map((s) => s.name), ['fleet/acme'], 'the gateway lists the scope active with the device');
  const ofDev = () => snap(gw).peers.find((p) => p.id === dev.peerId)?.scopes[0];
  await until(() => ofDev()?.peerSubscribed === true && snap(dev).peers[0]?.scopes[0]?.subscription === 'subscribed', 20_000, 'the device subscribed to the gateway\'s pushes');
  t.equal(snap(gw).scopes.find((s) => s.name === 'fleet/acme')?.activePeers, 2);
  t.ok(snap(gw).subscriptions.used >= 1, 'the slot is in the gateway\'s table');
  await until(() => snap(dev).gaps >= 1, 20_000, 'the late joiner of a pruned scope wrote a gap marker');
  t.equal(snap(dev).scopes.find((s) => s.name === 'fleet/acme')?.gaps, snap(dev).gaps, 'counted for its scope');
  t.equal(snap(gw).gaps, 0, 'the gateway, which pruned, has no gap');

  const [la, lb] = createMemoryLinkPair();
  gw.attach(la);
  lb.send(helloV2(vi, 1)); // a peer speaking protocol 1: its Hello names version 1
  await until(() => !la.open && !lb.open, 5000, 'the v1 peer was refused');
  await until(() => gw.sessions().length === 2, 5000, 'its session is gone');
  const after = snap(gw);
  t.ok(after.versionRefused >= 1, 'the refusal is still counted after its session ended');
  t.equal(after.unknownScope, 0);
  t.equal(after.scopeJoinsRejected, 0);
  const fams = byName(parse(renderMetricsV2(after)));
  t.equal(samples(fams.get('syncwire_scope_active_peers')).get('fleet/acme'), 2);
  t.ok((samples(fams.get('syncwire_version_refused_total')).get('') ?? 0) >= 1);
});
