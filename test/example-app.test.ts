/**
 * examples/device-app.mjs, run as a user would run it (`node examples/device-app.mjs config.json`,
 * importing 'syncwire' through the package's own exports), against a protocol-2 gateway started
 * with the library in this process over real TCP: the gateway creates the device's scope
 * `device/<peer id>`, an order committed there addressed to the device is acted on and
 * acknowledged, one naming another device is not, telemetry reaches the gateway, and after a
 * restart the device acts on the order that arrived while it was down exactly once, and on none
 * it had already handled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { ensureKeyFile, startAgent, type ScopedEntry } from '../agent/index.js';
import { freePort } from '../testkit/net.js';
import { until } from '../testkit/wait.js';

const APP = resolve('examples/device-app.mjs');
if (!existsSync(resolve('dist/agent/index.js'))) throw new Error('dist/ is missing: build first (npx tsc -p tsconfig.json)');
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_')),
);

const root = mkdtempSync(join(tmpdir(), 'swex-'));
const children = new Set<ChildProcess>();
t.teardown(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/** Every command of the device scope at the gateway, in its stream order (filled by the test's follower; gap lines left out). */
const seen: ScopedEntry[] = [];

/** Payloads of the gateway's commands that are JSON objects. */
function jsonOf(): Record<string, unknown>[] {
  return seen.flatMap((c) => (c.json !== null && typeof c.json === 'object' ? [c.json as Record<string, unknown>] : []));
}

function startApp(configPath: string): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [APP, configPath, '--telemetry-ms', '300'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => (children.delete(child), r(code))));
  return { child, out: () => out, exited };
}

t.test('the example device app acts on its orders, once each, across a restart', async (t) => {
  const gwDir = join(root, 'gw');
  const devDir = join(root, 'dev');
  const gwKey = ensureKeyFile(join(gwDir, 'key.json'));
  const devKey = ensureKeyFile(join(devDir, 'key.json'));
  const port = await freePort();
  const gw = await startAgent(
    { dataDir: gwDir, links: [`tcp-listen://127.0.0.1:${port}`], trust: { mode: 'list', keys: [devKey.publicKey] }, log: { level: 'warn' } },
    { role: 'gateway' },
  );
  t.teardown(() => gw.close());
  t.equal(gw.protocol, 2, 'the library starts a protocol-2 agent by default');
  const devScope = `device/${devKey.peerId}`;

  const configPath = join(devDir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({ dataDir: devDir, links: [`tcp://127.0.0.1:${port}`], trust: { mode: 'list', keys: [gwKey.publicKey] }, log: { level: 'warn' } }),
  );
  let app = startApp(configPath);
  await until(() => app.out().includes('ready'), 30_000, 'the app to start (once it holds its device scope)');
  t.ok(gw.scopes().some((s) => s.name === devScope), 'the gateway created the device scope');
  // Every command of the device scope at the gateway, in order, through the library's stream (the app's API too).
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  void (async () => {
    for await (const it of gw.commands({ scope: devScope, follow: true, signal: stop.signal })) if (!('gap' in it)) seen.push(it);
  })();

  const order1 = await gw.commit({ to: devKey.peerId, led: 1 }, { scope: devScope });
  await gw.commit({ to: 'ffffffffffffffff', led: 0 }, { scope: devScope }); // an order naming another device
  const acks = (): Record<string, unknown>[] => jsonOf().filter((j) => typeof j.ack === 'string');
  await until(() => acks().some((a) => a.ack === order1.id), 30_000, 'the ack of order 1 at the gateway');
  t.equal(readFileSync(join(devDir, 'led'), 'utf8'), '1', 'the device switched its LED');
  await until(() => jsonOf().some((j) => j.from === devKey.peerId && typeof j.n === 'number'), 30_000, 'telemetry at the gateway');

  app.child.kill('SIGTERM');
  t.equal(await app.exited, 0, 'the app stops cleanly on SIGTERM');
  t.match(app.out(), /stopped/);
  const order2 = await gw.commit({ to: devKey.peerId, led: 0 }, { scope: devScope });

  app = startApp(configPath);
  await until(() => acks().some((a) => a.ack === order2.id), 30_000, 'the ack of order 2 after the restart');
  t.equal(readFileSync(join(devDir, 'led'), 'utf8'), '0', 'the order sent while the device was down was applied');
  // A moment for any duplicate ack to arrive: the app's own telemetry keeps flowing meanwhile.
  const telemetryNow = jsonOf().filter((j) => j.from === devKey.peerId && typeof j.n === 'number').length;
  await until(() => jsonOf().filter((j) => j.from === devKey.peerId && typeof j.n === 'number').length >= telemetryNow + 3, 30_000, 'more telemetry');
  const ackIds = acks().map((a) => a.ack);
  t.same(ackIds, [order1.id, order2.id], 'each of its orders acknowledged exactly once, in order; the other device’s order never');
  app.child.kill('SIGTERM');
  t.equal(await app.exited, 0);
});
