/**
 * `syncwire gateway --protocol 2` and `syncwire agent --protocol 2` as real processes (the
 * compiled CLI): the gateway creates `fleet/acme` from its config's `scopes.create` and the
 * agent's device scope; a commit posted to the agent (default scope `device/self`) streams at the
 * gateway; a fleet command posted at the gateway reaches the agent; both stop cleanly on SIGTERM.
 */
import t from 'tap';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiRequest, apiStream } from '../agent/api/api-client.js';
import type { ScopedEntry } from '../agent/api/scope-feed.js';
import { CliHarness, statusUntil } from '../testkit/cli-proc.js';
import { sleep } from '../testkit/wait.js';

const h = new CliHarness();
t.teardown(() => h.cleanup());

const keyOf = (file: string): { publicKey: string; peerId: string } => JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string; peerId: string };

t.test('v2 gateway and agent processes: device scope up, fleet scope down', async (t) => {
  const root = h.tmp('swv2-');
  chmodSync(root, 0o700);
  const gwDir = join(root, 'gw');
  const aDir = join(root, 'a');
  for (const d of [gwDir, aDir]) t.equal((await h.run(['keygen', '--out', join(d, 'key.json')])).code, 0);
  const gk = keyOf(join(gwDir, 'key.json'));
  const ak = keyOf(join(aDir, 'key.json'));
  const cfgFile = join(gwDir, 'config.json');
  writeFileSync(cfgFile, JSON.stringify({ protocol: 2, scopes: { create: [{ name: 'fleet/acme', openRead: true, members: [{ key: 'self', roles: 'rwa' }] }] } }), { mode: 0o600 });
  const gw = h.start(['gateway', '--config', cfgFile, '--data-dir', gwDir, '--listen', 'tcp-listen://127.0.0.1:0', '--trust-key', ak.publicKey]);
  await gw.waitStderr(/agent started/);
  const gwSock = join(gwDir, 'status.sock');
  const st = await statusUntil(gwSock, (s) => typeof s.transports?.[0]?.localPort === 'number');
  const port = st.transports[0].localPort as number;
  const agent = h.start(['agent', '--protocol', '2', '--data-dir', aDir, '--link', `tcp://127.0.0.1:${port}`, '--trust-key', gk.publicKey, '--scope-join', 'fleet/acme', '--scope-default', 'device/self']);
  await agent.waitStderr(/agent started/);
  const aSock = join(aDir, 'status.sock');
  const devA = `device/${ak.peerId}`;
  const held = await statusUntil(aSock, (s) => Array.isArray(s.scopes) && s.scopes.length === 2 && s.scopes.every((x: { joining: boolean }) => !x.joining));
  t.same(held.scopes.map((x: { name: string }) => x.name).sort(), [devA, 'fleet/acme'].sort());

  const posted = (await apiRequest({ socketPath: aSock }, 'POST', '/v1/commands', { body: '{"temp":20}', contentType: 'application/json' })).json as { id: string; scope: string };
  t.equal(posted.scope, devA, 'the default scope is the device scope');
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 30_000).unref();
  let seen: ScopedEntry | undefined;
  for await (const l of apiStream({ socketPath: gwSock }, `/v1/commands?scope=${encodeURIComponent(devA)}&follow=true`, { signal: ac.signal })) {
    const e = JSON.parse(l) as ScopedEntry;
    if (e.id === posted.id) {
      seen = e;
      break;
    }
  }
  ac.abort();
  t.same(seen?.json, { temp: 20 }, 'the gateway streams the device commit');

  const fleet = (await apiRequest({ socketPath: gwSock }, 'POST', '/v1/commands?scope=fleet/acme', { body: '{"config":1}', contentType: 'application/json' })).json as { id: string };
  const fleetIds = async (): Promise<string[]> =>
    (await apiRequest({ socketPath: aSock }, 'GET', '/v1/commands?scope=fleet/acme')).text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as ScopedEntry).id);
  let ids: string[] = [];
  // Polled (a fallback of 30 s, nothing asserts a duration).
  for (let i = 0; i < 300 && !ids.includes(fleet.id); i++) {
    ids = await fleetIds();
    if (!ids.includes(fleet.id)) await sleep(100);
  }
  t.ok(ids.includes(fleet.id), 'the fleet command reached the agent');
  t.equal((await agent.stop()).code, 0, 'the agent stops cleanly');
  t.equal((await gw.stop()).code, 0, 'the gateway stops cleanly');
});
