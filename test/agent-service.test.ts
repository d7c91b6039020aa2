/**
 * A gateway process run as systemd runs it (`syncwire gateway` with NOTIFY_SOCKET and
 * WATCHDOG_USEC set, trust from `trust.keysFile`; protocol 2, the default), with three library
 * agents (protocol 2) dialing it over TCP:
 *
 * - READY=1 comes once the API answers and the links are attached; WATCHDOG=1 repeats; SIGHUP
 *   brings RELOADING=1 then READY=1; SIGTERM brings STOPPING=1 and exit status 0.
 * - A peer not in the file is refused and the gateway logs its full public key and the link.
 * - SIGHUP with a file that drops C and adds D: C's link is closed, B stays linked through it (no
 *   reconnect, no peer-down at B), D is admitted on its next dial.
 * - POST /v1/reload with a broken file answers 400 naming the line and changes nothing; with a
 *   good one that drops D it answers the counts and D is closed.
 * - /readyz is ready, /metrics counts the peers up.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ApiAnswerError, apiRequest } from '../agent/api/api-client.js';
import { ensureKeyFile, startAgent, type AgentV2 } from '../agent/index.js';
import { CliHarness } from '../testkit/cli-proc.js';
import { countNotify, fakeNotifySocket } from '../testkit/fake-notify.js';
import { findBin, freePort } from '../testkit/net.js';
import { until } from '../testkit/wait.js';

const cli = new CliHarness();
t.teardown(() => cli.cleanup());
const NOTIFY = findBin('systemd-notify');

t.test('gateway under a fake service manager: readiness, watchdog, live trust', { skip: NOTIFY === '' && 'systemd-notify not installed' }, async (t) => {
  const dir = cli.tmp('swsvc-');
  const gwDir = join(dir, 'gw');
  const gwKey = ensureKeyFile(join(gwDir, 'key.json'));
  const keys = { b: ensureKeyFile(join(dir, 'b', 'key.json')), c: ensureKeyFile(join(dir, 'c', 'key.json')), d: ensureKeyFile(join(dir, 'd', 'key.json')) };
  const keysFile = join(dir, 'trusted.keys');
  writeFileSync(keysFile, `# devices\n${keys.b.publicKey} device-b\n${keys.c.publicKey} device-c\n`);
  const port = await freePort();
  const config = join(dir, 'gateway.json');
  writeFileSync(config, JSON.stringify({ dataDir: gwDir, links: [`tcp-listen://127.0.0.1:${port}`], trust: { mode: 'list', keysFile } }));
  const notify = await fakeNotifySocket(t, dir, 'notify.sock');
  const gw = cli.start(['gateway', '--config', config], { env: { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '400000' } });
  const socket = join(gwDir, 'status.sock');
  await until(() => countNotify(notify.messages, 'READY=1') >= 1, 30_000, 'READY=1');
  t.equal((await apiRequest({ socketPath: socket }, 'GET', '/readyz')).status, 200, 'ready when READY=1 was sent');
  await until(() => countNotify(notify.messages, 'WATCHDOG=1') >= 3, 30_000, 'three watchdog pings');

  const agents: AgentV2[] = [];
  t.teardown(() => Promise.all(agents.map((a) => a.close())));
  const dial = async (name: 'b' | 'c' | 'd'): Promise<AgentV2> => {
    const a = await startAgent({ dataDir: join(dir, name), links: [`tcp://127.0.0.1:${port}`], trust: { mode: 'list', keys: [gwKey.publicKey] }, log: { level: 'silent' } });
    agents.push(a);
    return a;
  };
  const b = await dial('b');
  const c = await dial('c');
  let bDown = 0;
  b.on('peer-down', () => bDown++);
  const peersUp = async (): Promise<string[]> => {
    const s = (await apiRequest({ socketPath: socket }, 'GET', '/v1/status')).json as { peers: { id: string; authenticated: boolean }[] };
    return s.peers.filter((p) => p.authenticated).map((p) => p.id).sort();
  };
  await until(() => b.status().peers.some((p) => p.authenticated) && c.status().peers.some((p) => p.authenticated), 30_000, 'B and C linked');
  t.same(await peersUp(), [keys.b.peerId, keys.c.peerId].sort());
  // A v2 session has no reconnect counter: B's link at the gateway is named by its remote address and port.
  const linksOfB = async (): Promise<string[]> =>
    ((await apiRequest({ socketPath: socket }, 'GET', '/v1/status')).json as { peers: { id: string; link: string; authenticated: boolean }[] }).peers
      .filter((p) => p.id === keys.b.peerId && p.authenticated)
      .map((p) => p.link);
  const bLinks = await linksOfB();
  t.equal(bLinks.length, 1, 'B has one link at the gateway');

  const d = await dial('d');
  await gw.waitStderr(new RegExp(keys.d.publicKey), 30_000); // the refusal names D's full key

  // Reload by SIGHUP: C out, D in.
  writeFileSync(keysFile, `${keys.b.publicKey} device-b\n${keys.d.publicKey} device-d\n`);
  const readyBefore = countNotify(notify.messages, 'READY=1');
  gw.child.kill('SIGHUP');
  await until(() => countNotify(notify.messages, 'RELOADING=1') >= 1 && countNotify(notify.messages, 'READY=1') > readyBefore, 30_000, 'RELOADING=1 then READY=1');
  await until(() => !c.status().peers.some((p) => p.authenticated), 30_000, 'C disconnected');
  await until(() => d.status().peers.some((p) => p.authenticated), 60_000, 'D admitted on its next dial');
  const bPeer = b.status().peers.find((p) => p.authenticated);
  t.ok(bPeer, 'B still linked');
  t.equal(bDown, 0, 'B never lost its link');
  t.same(await linksOfB(), bLinks, 'the gateway saw no reconnect of B: the same TCP connection (remote port) before and after');

  // Reload over the API: a broken file first (nothing changes), then one without D.
  writeFileSync(keysFile, `${keys.b.publicKey} device-b\nnot-a-key\n`);
  const bad = await apiRequest({ socketPath: socket }, 'POST', '/v1/reload').then(
    () => null,
    (err: unknown) => err,
  );
  t.type(bad, ApiAnswerError);
  t.match(bad, { status: 400, reason: 'bad_request', message: /trusted\.keys:2:/ }, 'names the bad line');
  t.ok(d.status().peers.some((p) => p.authenticated), 'D still linked after the refused reload');
  writeFileSync(keysFile, `${keys.b.publicKey} device-b\n`);
  const good = await apiRequest({ socketPath: socket }, 'POST', '/v1/reload');
  t.equal(good.status, 200);
  t.match(good.json, { ok: true, trusted: 1, added: 0, removed: 1, closed: 1 });
  await until(() => !d.status().peers.some((p) => p.authenticated), 30_000, 'D disconnected');
  t.same(await peersUp(), [keys.b.peerId], 'only B is linked');
  const metrics = (await apiRequest({ socketPath: socket }, 'GET', '/metrics')).text;
  t.match(metrics, /^syncwire_peers_up 1$/m, 'metrics count one peer up');

  const r = await gw.stop('SIGTERM');
  t.equal(r.code, 0, 'clean shutdown');
  t.ok(countNotify(notify.messages, 'STOPPING=1') >= 1, 'STOPPING=1 sent');
  const refusal = r.stderr.split('\n').find((l) => l.includes(keys.d.publicKey));
  t.ok(refusal, 'the refusal of D before the reload named its full public key');
  t.match(refusal, /tcp|127\.0\.0\.1/, 'and the link it came over');
});
