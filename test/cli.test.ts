/**
 * The `syncwire` CLI, run as users run it: the compiled `dist/agent/cli/main.js` in a child
 * process (build first: `npx tsc -p tsconfig.json`). Covers help and usage errors, config
 * validation messages, keygen file modes, the agent/gateway/status/commit round trip on the
 * default protocol 2 (a fleet scope the gateway creates and the agent joins; commits through
 * both, an offline commit into the agent's scope, a clean SIGTERM shutdown), and lazy transport
 * loading (read from the running agent's own module cache through `status --json`). A few pure
 * helpers are checked in-process.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { agentSpec } from '../agent/cli/agent-cmd.js';
import { gatewaySpec } from '../agent/cli/gateway-cmd.js';
import { simSpec } from '../agent/cli/sim-cmd.js';
import { keygenSpec } from '../agent/cli/keys.js';
import { commitSpec } from '../agent/cli/commit-cmd.js';
import { statusSpec } from '../agent/cli/status-cmd.js';
import { demoSpec } from '../agent/cli/demo.js';
import { validate } from '../agent/cli/config.js';
import { apiRequest } from '../agent/api/api-client.js';
import { transportOptionsFor } from '../agent/cli/node-transports.js';
import { resolveConfig } from '../agent/cli/config.js';
import { sleep } from '../testkit/wait.js';

const MAIN = resolve('dist/agent/cli/main.js');
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json)`);

// The children run without tap's per-process instrumentation (it costs ~300 ms a spawn).
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_')),
);

const dirs: string[] = [];
// Short paths: a unix socket path must stay under ~107 bytes.
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'swcli-'));
  dirs.push(d);
  return d;
};
const children = new Set<ChildProcess>();
t.teardown(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion. */
function run(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: opts.cwd ?? process.cwd(), env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`syncwire ${args.join(' ')} timed out\n${stderr}`));
    }, opts.timeoutMs ?? 60_000); // a fallback for a wedged CLI, not a timing bound: 13 processes start side by side below
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** What stderr says: `agent` and `gateway` write JSON lines (fatal errors too); this is their `msg`s. */
function said(r: Result): string {
  return r.stderr
    .split('\n')
    .map((l) => {
      try {
        return String((JSON.parse(l) as { msg?: unknown }).msg);
      } catch {
        return l;
      }
    })
    .join('\n');
}

/** Start a long-running command; `stop()` sends SIGTERM and resolves with the result. */
function start(args: string[]): { child: ChildProcess; stop: () => Promise<Result> } {
  const child = spawn(process.execPath, [MAIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<Result>((r) => child.on('close', (code) => r({ code, stdout, stderr })));
  return {
    child,
    stop: async () => {
      child.kill('SIGTERM');
      const r = await done;
      children.delete(child);
      return r;
    },
  };
}

/** GET /v1/status on the agent's API socket (what `status --json` prints) until `ready(snapshot)` holds (generous: a loaded 2-core machine). */
async function statusUntil(dataDir: string, ready: (s: Record<string, any>) => boolean, timeoutMs = 30000): Promise<Record<string, any>> {
  const by = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < by) {
    try {
      const s = (await apiRequest({ socketPath: join(dataDir, 'status.sock') }, 'GET', '/v1/status')).json as Record<string, any>;
      last = JSON.stringify(s);
      if (ready(s)) return s;
    } catch (err) {
      last = String(err);
    }
    await sleep(100);
  }
  throw new Error(`status never ready: ${last}`);
}

async function keygen(file: string): Promise<{ peerId: string; publicKey: string }> {
  const r = await run(['keygen', '--out', file, '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { peerId: string; publicKey: string };
}

t.test('help, version and usage errors', async (t) => {
  const specs = [agentSpec, gatewaySpec, simSpec, keygenSpec, commitSpec, statusSpec, demoSpec];
  // Independent processes: run them side by side.
  const [top, v, unknownCmd, unknownFlag, none, badNum, ...helps] = await Promise.all([
    run(['--help']),
    run(['--version']),
    run(['frobnicate']),
    run(['status', '--frob']),
    run([]),
    run(['demo', '--seconds', 'soon']),
    ...specs.map((spec) => run([spec.name, '--help'])),
  ]);
  t.equal(top.code, 0);
  for (const c of ['agent', 'gateway', 'sim', 'keygen', 'commit', 'status', 'demo']) t.match(top.stdout, new RegExp(`^  ${c} `, 'm'), `lists ${c}`);
  t.equal(v.code, 0);
  t.match(v.stdout, /^syncwire \d+\.\d+\.\d+/);
  specs.forEach((spec, i) => {
    const r = helps[i]!;
    t.equal(r.code, 0, `${spec.name} --help exits 0`);
    t.match(r.stdout, `Usage: syncwire ${spec.name}`);
    for (const flag of Object.keys(spec.flags)) t.match(r.stdout, `--${flag}`, `${spec.name} --help mentions --${flag}`);
  });
  t.equal(unknownCmd.code, 2);
  t.match(unknownCmd.stderr, 'unknown command "frobnicate"');
  t.equal(unknownFlag.code, 2);
  t.match(unknownFlag.stderr, "Unknown option '--frob'");
  t.match(unknownFlag.stderr, 'syncwire status --help');
  t.equal(none.code, 2, 'no command is a usage error');
  t.equal(badNum.code, 2);
  t.match(badNum.stderr, '--seconds: expected a positive integer, got "soon"');
});

t.test('config validation names the exact JSON path and the expected value', async (t) => {
  const d = tmp();
  const cfg = (name: string, body: unknown): string => {
    const f = join(d, name);
    writeFileSync(f, JSON.stringify(body));
    return f;
  };

  const notJson = join(d, 'broken.json');
  writeFileSync(notJson, '{ "dataDir": ');
  const [cap, flagCap, many, subTrue, broken, ok] = await Promise.all([
    run(['agent', '--config', cfg('cap.json', { subscriptions: { capacity: 100 } })]),
    run(['agent', '--capacity', '96', '--print-config']),
    run([
      'gateway', '--config',
      cfg('many.json', { durability: 'sometimes', trust: { mode: 'closed', keys: ['zz'] }, subscribe: { remainOpenS: 'x' }, links: [5], extra: 1 }),
    ]),
    run(['agent', '--config', cfg('sub.json', { subscribe: true })]),
    run(['agent', '--config', notJson]),
    // Flags override config fields; the example config is valid.
    run(['agent', '--config', resolve('agent/cli/config.example.json'), '--capacity', '256', '--durability', 'batch:20', '--print-config']),
  ]);
  t.equal(cap.code, 78, 'EX_CONFIG');
  t.match(cap.stderr, 'cap.json: /subscriptions/capacity: expected a power of two, got 100');
  t.equal(flagCap.code, 78);
  t.match(flagCap.stderr, '--capacity: /subscriptions/capacity: expected a power of two, got 96');
  t.equal(many.code, 78);
  t.match(said(many), 'many.json: /durability: expected "always", "none" or "batch:<ms>", got "sometimes"');
  t.match(said(many), 'many.json: /trust/mode: expected "list" or "open", got "closed"');
  t.match(said(many), 'many.json: /trust/keys/0: expected a 64-hex-char ed25519 public key, got "zz"');
  t.match(said(many), 'many.json: /subscribe/remainOpenS: expected a positive integer number of seconds, got "x"');
  t.match(said(many), 'many.json: /subscribe/maxBytes: missing');
  t.match(said(many), 'many.json: /links/0: expected a transport URL');
  t.match(said(many), 'many.json: /extra: unknown field (allowed: dataDir, keyFile');
  t.match(said(subTrue), '/subscribe: expected { "remainOpenS": <s>, "maxBytes": <n> } or false, got true');
  t.equal(broken.code, 78);
  t.match(broken.stderr, 'broken.json: not valid JSON');
  t.equal(ok.code, 0, ok.stderr);
  const printed = JSON.parse(ok.stdout) as Record<string, any>;
  t.equal(printed.subscriptions.capacity, 256);
  t.equal(printed.durability, 'batch:20');
  t.equal(printed.mqtt.password, '***', 'password redacted');

  // The validator itself (what the messages are built from).
  t.same(await validate({ subscriptions: { capacity: 64 } }), []);
  t.same(await validate({ subscriptions: { capacity: 48 } }), [{ path: '/subscriptions/capacity', text: 'expected a power of two, got 48' }]);
  // The generated check and TypeBox agree: what the check accepts has no problems, and the
  // example config (every field set) passes the fast path.
  t.same(await validate(JSON.parse(readFileSync(new URL('../agent/cli/config.example.json', import.meta.url), 'utf8'))), [], 'the example config is valid');
  const { configCheckSource } = await import('../scripts/gen-checks.js');
  t.equal(readFileSync(new URL('../agent/cli/config-check.generated.ts', import.meta.url), 'utf8'), configCheckSource(), 'config-check.generated.ts matches the schema (run `make vectors`)');
});

t.test('keygen writes mode 0600, refuses to overwrite, agents refuse loose key files', async (t) => {
  const d = tmp();
  const file = join(d, 'k', 'key.json');
  const first = await run(['keygen', '--out', file]);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /peer id: +[0-9a-f]{16}\npublic key: [0-9a-f]{64}/);
  t.equal(statSync(file).mode & 0o777, 0o600);
  const key = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  t.equal(key.type, 'syncwire-ed25519');
  t.match(key.secretKey, /^[0-9a-f]{64}$/);

  const again = await run(['keygen', '--out', file]);
  t.equal(again.code, 1);
  t.match(again.stderr, 'exists; pass --force');
  t.equal(readFileSync(file, 'utf8'), JSON.stringify(key, null, 2) + '\n', 'untouched');

  const forced = await run(['keygen', '--out', file, '--force', '--json']);
  t.equal(forced.code, 0);
  t.not((JSON.parse(forced.stdout) as { peerId: string }).peerId, key.peerId);
  t.equal(statSync(file).mode & 0o777, 0o600);

  chmodSync(file, 0o644);
  const loose = await run(['agent', '--data-dir', d, '--key', file, '--status-socket', '']);
  t.equal(loose.code, 78);
  t.match(loose.stderr, 'must not be accessible by group or others');
  const missing = await run(['agent', '--data-dir', d, '--key', join(d, 'nope.json')]);
  t.equal(missing.code, 78);
  t.match(missing.stderr, 'syncwire keygen --out');
});

t.test('gateway + agent over TCP: commit, status, clean shutdown', async (t) => {
  const gw = tmp();
  const ag = tmp();
  const gk = await keygen(join(gw, 'key.json'));
  const ak = await keygen(join(ag, 'key.json'));
  const fleet = 'fleet/cli';
  // The gateway creates the fleet scope (the agent a writing member) and commits to it by default.
  const gwCfg = join(gw, 'config.json');
  writeFileSync(gwCfg, JSON.stringify({ scopes: { default: fleet, create: [{ name: fleet, members: [{ key: 'self', roles: 'rwa' }, { key: ak.publicKey, roles: 'rw' }] }] } }));
  const gateway = start(['gateway', '-c', gwCfg, '-d', gw, '--listen', 'tcp-listen://127.0.0.1:0', '--trust-key', ak.publicKey, '--log-level', 'info']);
  const g0 = await statusUntil(gw, (s) => s.transports[0]?.localPort > 0);
  t.equal(g0.role, 'gateway');
  t.equal(g0.protocol, 2, 'protocol 2 is the default');
  t.equal(g0.subscriptions.capacity, 128);
  const port = g0.transports[0].localPort as number;
  const agent = start(['agent', '-d', ag, '--link', `tcp://127.0.0.1:${port}`, '--trust-key', gk.publicKey, '--capacity', '64', '--scope-join', fleet, '--scope-default', fleet]);
  await statusUntil(gw, (s) => s.peers.some((p: any) => p.id === ak.peerId && p.authenticated));
  await statusUntil(ag, (s) => s.scopes.some((x: any) => x.name === fleet && !x.joining), 30_000);

  // Through the running agents' sockets, each to its default scope: pushed to the other side at once.
  const c1 = await run(['commit', '-d', ag, '--text', '{"n":1}']);
  t.equal(c1.code, 0, c1.stderr);
  t.match(c1.stdout, /^[0-9a-f]{64}\n$/);
  const c2 = await run(['commit', '-d', gw, '--hex', 'cafe']);
  t.equal(c2.code, 0, c2.stderr);
  const fleetOf = (s: Record<string, any>): Record<string, any> | undefined => s.scopes.find((x: any) => x.name === fleet);
  // The genesis and the two commits.
  const both = (s: Record<string, any>) => fleetOf(s)?.commands === 3;
  const g = await statusUntil(gw, both, 30_000);
  const a = await statusUntil(ag, both, 30_000);
  t.equal(fleetOf(a)!.id, fleetOf(g)!.id, 'the same scope on both sides');
  const ids = async (dir: string): Promise<string[]> =>
    (await apiRequest({ socketPath: join(dir, 'status.sock') }, 'GET', `/v1/commands?scope=${encodeURIComponent(fleet)}`)).text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id).sort();
  const gIds = await ids(gw);
  t.same(await ids(ag), gIds, 'same commands on both sides');
  t.ok(gIds.includes(c1.stdout.trim()) && gIds.includes(c2.stdout.trim()), 'both commits are in the fleet scope');
  t.equal(a.subscriptions.capacity, 64, '--capacity applied');
  const peer = g.peers.find((p: any) => p.id === ak.peerId);
  t.ok(peer.bytesIn > 0 && peer.bytesOut > 0 && peer.framesIn > 0);
  t.equal(peer.unknownScope, 0);
  t.ok(peer.scopes.some((x: any) => x.name === fleet), 'the fleet scope is active with the agent');
  t.same(g.modules, { mqtt: false, serialport: false }, 'a TCP-only gateway loads neither mqtt nor serialport');

  const json = await run(['status', '-d', gw, '--json']);
  t.equal(json.code, 0);
  t.equal(fleetOf(JSON.parse(json.stdout) as Record<string, any>)?.id, fleetOf(g)!.id, 'status --json prints the snapshot');
  const human = await run(['status', '-d', gw]);
  t.equal(human.code, 0);
  t.match(human.stdout, /subscriptions: \d+\/128 in use/);
  t.match(human.stdout, new RegExp(`${fleet}\\s+${fleetOf(g)!.id.slice(0, 16)}\\s+3\\s`), 'the scopes table: name, id, commands');
  t.match(human.stdout, ak.peerId);

  const wrongKey = await run(['commit', '-d', ag, '--key', join(gw, 'key.json'), '--text', 'x']);
  t.equal(wrongKey.code, 1, 'a --key other than the running agent\'s is refused');
  t.match(wrongKey.stderr, 'the running agent signs as');

  const a1 = await agent.stop();
  t.equal(a1.code, 0, a1.stderr);
  const g1 = await gateway.stop();
  t.equal(g1.code, 0, g1.stderr);
  t.match(g1.stderr, '"msg":"stopped"');
  for (const dir of [gw, ag]) {
    t.notOk(existsSync(join(dir, 'status.sock')), 'status socket removed');
    t.notOk(existsSync(join(dir, 'syncwire.lock')), 'lock released');
  }
  const gone = await run(['status', '-d', gw]);
  t.equal(gone.code, 1);
  t.match(gone.stderr, 'no agent is running there');

  // No agent: commit goes straight into the scope's store, and the next start has it.
  const held = fleetOf(a)!;
  const ambiguous = await run(['commit', '-d', ag, '--text', 'offline']);
  if (a.scopes.length > 1) {
    t.equal(ambiguous.code, 2, 'offline too: no --scope and no scopes.default with several scopes is a usage error');
    t.match(ambiguous.stderr, 'scope required');
  }
  const unknown = await run(['commit', '-d', ag, '--scope', 'fleet/nope', '--text', 'offline']);
  t.equal(unknown.code, 1, 'offline: an unknown scope exits 1');
  t.match(unknown.stderr, 'unknown_scope');
  const offline = await run(['commit', '-d', ag, '--scope', fleet, '--text', 'offline']);
  t.equal(offline.code, 0, offline.stderr);
  t.match(offline.stdout, /^[0-9a-f]{64}\n$/);
  const again = start(['agent', '-d', ag, '--scope-default', fleet]);
  const s = await statusUntil(ag, (x) => fleetOf(x) !== undefined);
  t.equal(fleetOf(s)!.commands, held.commands + (a.scopes.length > 1 ? 1 : 2), 'the offline commit is in the scope after a restart');
  t.ok((await ids(ag)).includes(offline.stdout.trim()), 'by its id');
  // A running agent without a status socket still holds the lock: direct commits are refused.
  await again.stop();
  const quiet = start(['agent', '-d', ag, '--status-socket', '']);
  for (let i = 0; i < 400 && !existsSync(join(ag, 'syncwire.lock')); i++) await sleep(50);
  t.ok(existsSync(join(ag, 'syncwire.lock')), 'the agent holds the lock');
  const refused = await run(['commit', '-d', ag, '--scope', fleet, '--text', 'x']);
  t.not(refused.code, 0);
  t.match(refused.stderr, /held by process \d+/);
  await quiet.stop();
});

t.test('transports load lazily: serial-only agent never loads mqtt.js', async (t) => {
  const [ds, dm] = [tmp(), tmp()];
  await Promise.all([keygen(join(ds, 'key.json')), keygen(join(dm, 'key.json'))]);
  // A device that is not there: the serial transport keeps retrying, the agent keeps running.
  const serialOnly = start(['agent', '-d', ds, '--link', 'serial:/dev/syncwire-no-such-tty', '--log-level', 'fatal']);
  // The control: an MQTT link (to no broker) does load mqtt.js, and not serialport.
  const mqttOnly = start(['agent', '-d', dm, '--link', 'mqtt://127.0.0.1:1/0123456789abcdef', '--log-level', 'fatal']);
  const [s, m] = await Promise.all([
    statusUntil(ds, (x) => x.modules.serialport === true),
    statusUntil(dm, (x) => x.modules.mqtt === true),
  ]);
  t.same(s.modules, { mqtt: false, serialport: true }, 'serial-only: serialport loaded, mqtt not');
  t.same(s.transports.map((x: any) => x.url), ['serial:/dev/syncwire-no-such-tty']);
  t.same(m.modules, { mqtt: true, serialport: false }, 'mqtt-only: mqtt loaded, serialport not');
  const [rs, rm] = await Promise.all([serialOnly.stop(), mqttOnly.stop()]);
  t.equal(rs.code, 0, rs.stderr);
  t.equal(rm.code, 0, rm.stderr);
});

t.test('config "mqtt" credentials and TLS apply to MQTT links only', async (t) => {
  const cfg = resolveConfig({ mqtt: { username: 'dev ice', password: 'p@ss', ca: '/etc/ca.pem' } });
  t.same(transportOptionsFor('mqtt://broker:1883/0123456789abcdef', cfg), {
    url: 'mqtt://dev%20ice:p%40ss@broker:1883/0123456789abcdef',
    tls: { ca: '/etc/ca.pem', cert: undefined, key: undefined },
  });
  t.equal(transportOptionsFor('mqtt-listen://u:v@broker:1883', cfg).url, 'mqtt-listen://u:v@broker:1883', 'URL credentials win');
  t.same(transportOptionsFor('tcp://h:1', cfg), { url: 'tcp://h:1' });
  t.same(transportOptionsFor('serial:/dev/ttyS0', resolveConfig({})), { url: 'serial:/dev/ttyS0' });
});
