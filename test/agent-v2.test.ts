/**
 * A protocol-2 gateway and two protocol-2 agents end to end, in process through
 * `startResolvedAgent` (what `syncwire agent|gateway --protocol 2` runs), over real TCP and their
 * real HTTP APIs on unix sockets: the gateway creates `fleet/acme` from `scopes.create` and a
 * `device/<id>` for each agent; an agent's commit to its device scope streams at the gateway;
 * a fleet config committed at the gateway reaches the agent; each `GET /v1/scopes` lists exactly
 * its scopes (an agent never sees the other's device scope); an agent restarted on its data
 * directory keeps everything and resumes from its cursors.
 */
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiRequest, apiStream, type ApiTarget } from '../agent/api/api-client.js';
import type { ScopedEntry } from '../agent/api/scope-feed.js';
import type { AgentV2 } from '../agent/cli/agent-v2.js';
import { resolveConfig, type ResolvedConfig } from '../agent/cli/config.js';
import type { ConfigFile } from '../agent/cli/config-schema.js';
import { createLogger } from '../agent/cli/logger.js';
import { ensureKeyFile, startResolvedAgent } from '../agent/cli/start-agent.js';
import { until } from '../testkit/wait.js';

const root = mkdtempSync(join(tmpdir(), 'sw-agent-v2-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const log = createLogger('silent');

/** A resolved protocol-2 config (the config helper's `protocol` and `scopes` fields). */
function v2(c: ConfigFile, scopes: object): ResolvedConfig & { protocol: 2 } {
  return Object.assign(resolveConfig(c), { protocol: 2 as const, scopes });
}

const names = (a: AgentV2): string[] => a.scopes().filter((s) => !s.joining).map((s) => s.name).sort();
const sock = (dir: string): ApiTarget => ({ socketPath: join(dir, 'status.sock') });
const lines = (text: string): unknown[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);

/** Read `path` as a follow stream until a line satisfies `pred`; returns the lines read. */
async function streamUntil(target: ApiTarget, path: string, pred: (l: ScopedEntry) => boolean): Promise<ScopedEntry[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 30_000);
  const got: ScopedEntry[] = [];
  try {
    for await (const l of apiStream(target, path, { signal: ac.signal })) {
      const e = JSON.parse(l) as ScopedEntry;
      got.push(e);
      if (pred(e)) break;
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return got;
}

t.test('v2 gateway and agents: device and fleet scopes over TCP, scope isolation, restart', async (t) => {
  const gwDir = join(root, 'gw');
  const aDir = join(root, 'a');
  const bDir = join(root, 'b');
  const gk = ensureKeyFile(join(gwDir, 'key.json'));
  const ak = ensureKeyFile(join(aDir, 'key.json'));
  const bk = ensureKeyFile(join(bDir, 'key.json'));
  const gw = await startResolvedAgent(
    v2(
      { dataDir: gwDir, keyFile: join(gwDir, 'key.json'), links: ['tcp-listen://127.0.0.1:0'], trust: { mode: 'list', keys: [ak.publicKey, bk.publicKey] } },
      { create: [{ name: 'fleet/acme', openRead: true, members: [{ key: 'self', roles: 'rwa' }] }] },
    ),
    'gateway',
    log,
  );
  t.teardown(() => gw.close());
  t.equal(gw.protocol, 2);
  const port = gw.status().transports[0]?.localPort;
  t.type(port, 'number', 'the listener bound a port');
  const agentCfg = (dir: string): ResolvedConfig & { protocol: 2 } =>
    v2({ dataDir: dir, keyFile: join(dir, 'key.json'), links: [`tcp://127.0.0.1:${port}`], trust: { mode: 'list', keys: [gk.publicKey] } }, { default: 'device/self', join: ['fleet/acme'] });
  let a = await startResolvedAgent(agentCfg(aDir), 'agent', log);
  const b = await startResolvedAgent(agentCfg(bDir), 'agent', log);
  t.teardown(() => b.close());
  const devA = `device/${ak.peerId}`;
  const devB = `device/${bk.peerId}`;
  await until(() => names(a).length === 2 && names(b).length === 2 && names(gw).length === 3, 30_000, 'every scope created and joined');

  // The agent commits to its device scope through its API; the gateway streams it.
  const posted = await apiRequest(sock(aDir), 'POST', `/v1/commands?scope=${encodeURIComponent(devA)}`, { body: '{"temp":21}', contentType: 'application/json' });
  t.equal(posted.status, 201);
  const c1 = posted.json as { id: string; cursor: string; scope: string };
  t.equal(c1.scope, devA);
  const atGw = await streamUntil(sock(gwDir), `/v1/commands?scope=${encodeURIComponent(devA)}&follow=true`, (e) => e.id === c1.id);
  t.same(atGw.map((e) => e.kind), ['genesis', 'data'], 'the gateway streams the device scope from its genesis');
  t.same(atGw[1]?.json, { temp: 21 });
  t.equal(atGw[1]?.scope, devA);

  // Without a scope the agent uses scopes.default (its device scope).
  const byDefault = (await apiRequest(sock(aDir), 'POST', '/v1/commands', { body: 'hello' })).json as { scope: string; cursor: string };
  t.equal(byDefault.scope, devA);

  // A fleet config committed at the gateway reaches both agents.
  const cfgCmd = await gw.commit({ config: { interval: 5 } }, { scope: 'fleet/acme' });
  t.equal(cfgCmd.scope, 'fleet/acme');
  await until(() => a.command(cfgCmd.id) !== null && b.command(cfgCmd.id) !== null, 30_000, 'the fleet config at both agents');
  const fleetAtA = lines((await apiRequest(sock(aDir), 'GET', '/v1/commands?scope=fleet/acme')).text) as ScopedEntry[];
  t.same(fleetAtA.map((e) => e.kind), ['genesis', 'data']);
  t.same(fleetAtA[1]?.json, { config: { interval: 5 } });
  t.equal(a.command(cfgCmd.id)?.scope, 'fleet/acme', 'show looks in every scope and names it');

  // Exactly the expected scopes on each host; an agent never holds another device's scope.
  const listed = async (dir: string): Promise<string[]> =>
    ((await apiRequest(sock(dir), 'GET', '/v1/scopes')).json as { scopes: { name: string }[] }).scopes.map((s) => s.name).sort();
  t.same(await listed(gwDir), [devA, devB, 'fleet/acme'].sort());
  t.same(await listed(aDir), [devA, 'fleet/acme'].sort());
  t.same(await listed(bDir), [devB, 'fleet/acme'].sort());
  await t.rejects(apiRequest(sock(aDir), 'GET', `/v1/commands?scope=${encodeURIComponent(devB)}`), { name: 'ApiAnswerError', status: 404, reason: 'not_found' });
  await t.rejects(apiRequest(sock(gwDir), 'POST', '/v1/commands', { body: 'x' }), { name: 'ApiAnswerError', status: 400, reason: 'bad_request', message: /scope required/ });
  const st = a.status();
  t.equal(st.protocol, 2);
  t.same(st.scopes.map((s) => s.name).sort(), [devA, 'fleet/acme'].sort());
  t.ok(st.peers.some((p) => p.id === gk.peerId && p.authenticated), 'the gateway is a peer in the status');

  // A disk scope store reports the bytes of its segment log (the seg-*.log files), in status and /metrics.
  const devInfo = a.status().scopes.find((x) => x.name === devA)!;
  const segDir = join(aDir, 'scopes', devInfo.id);
  const onDisk = readdirSync(segDir).filter((f) => /^seg-\d+\.log$/.test(f)).reduce((n, f) => n + statSync(join(segDir, f)).size, 0);
  t.ok(onDisk > 0, 'the device scope has a segment log on disk');
  t.equal(devInfo.bytes, onDisk, 'status bytes of a disk scope: its segment log\'s size');
  t.match((await apiRequest(sock(aDir), 'GET', '/metrics')).text, new RegExp(`^syncwire_scope_bytes\\{scope="${devA}"\\} ${onDisk}$`, 'm'), 'and its metrics sample');

  // Restart the agent on its data directory: nothing lost, cursors resume.
  const devCount = a.scopes().find((s) => s.name === devA)?.commands;
  await a.close();
  const cfg2 = await gw.commit({ config: { interval: 10 } }, { scope: 'fleet/acme' });
  a = await startResolvedAgent(agentCfg(aDir), 'agent', log);
  t.teardown(() => a.close());
  t.equal(a.scopes().find((s) => s.name === devA)?.commands, devCount, 'the device scope is whole after the restart');
  const afterRestart = lines((await apiRequest(sock(aDir), 'GET', `/v1/commands?scope=${encodeURIComponent(devA)}&after=${byDefault.cursor}`)).text);
  t.same(afterRestart, [], 'nothing after the last device command');
  const resumed: ScopedEntry[] = [];
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 30_000).unref();
  for await (const it of a.commands({ scope: 'fleet/acme', after: fleetAtA[1]!.cursor, follow: true, signal: ac.signal })) {
    if ('gap' in it) continue;
    resumed.push(it);
    if (it.id === cfg2.id) break;
  }
  t.same(resumed.map((e) => e.id), [cfg2.id], 'the fleet stream resumes after its cursor: the config committed meanwhile, once');
  t.same(await listed(aDir), [devA, 'fleet/acme'].sort());
});

t.test('v2 trust reload: a peer removed from trust.keysFile has its session closed, and is refused after', async (t) => {
  const gwDir = join(root, 'gw-trust');
  const aDir = join(root, 'a-trust');
  const gk = ensureKeyFile(join(gwDir, 'key.json'));
  const ak = ensureKeyFile(join(aDir, 'key.json'));
  const keysFile = join(gwDir, 'trusted-keys');
  writeFileSync(keysFile, `${ak.publicKey} agent-a\n`, { mode: 0o600 });
  const gw = await startResolvedAgent(
    v2({ dataDir: gwDir, keyFile: join(gwDir, 'key.json'), links: ['tcp-listen://127.0.0.1:0'], trust: { mode: 'list', keysFile } }, {}),
    'gateway',
    log,
  );
  t.teardown(() => gw.close());
  const port = gw.status().transports[0]?.localPort;
  const a = await startResolvedAgent(
    v2({ dataDir: aDir, keyFile: join(aDir, 'key.json'), links: [`tcp://127.0.0.1:${port}`], trust: { mode: 'list', keys: [gk.publicKey] } }, {}),
    'agent',
    log,
  );
  t.teardown(() => a.close());
  await until(() => names(a).includes(`device/${ak.peerId}`), 30_000, 'the agent holds its device scope');
  const rejected: string[] = [];
  gw.on('peer-rejected', (info) => rejected.push(info.peerId));
  writeFileSync(keysFile, '', { mode: 0o600 });
  const r = gw.reload();
  t.same([r.removed, r.closed], [1, 1], 'the removed peer\'s session is closed');
  await until(() => rejected.includes(ak.peerId), 30_000, 'the redialled agent refused');
  t.notOk(gw.status().peers.some((p) => p.authenticated && p.id === ak.peerId), 'no session with the removed peer');
});
