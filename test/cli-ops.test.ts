/**
 * What an operator lives with, checked on real `syncwire` processes (the compiled
 * dist/agent/cli/main.js; build first) with stderr piped as under systemd or in a container:
 * SIGHUP reloads the trust (one info line) and is survived, fatal errors are one JSON line in
 * the log's format, a catch-up of 400 commands over a link (protocol 2: an open-read scope
 * committed offline, joined by the other agent) arrives whole and `peer` names the remote, and
 * SYNCWIRE_CONFIG / SYNCWIRE_LOG_LEVEL configure a daemon whose command line cannot be changed.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { until } from '../testkit/wait.js';

const MAIN = resolve('dist/agent/cli/main.js');
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json)`);

// Children without tap's instrumentation, and without the operator variables under test.
const baseEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_') && !k.startsWith('SYNCWIRE_')),
);

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'swops-'));
  dirs.push(d);
  return d;
};
const children = new Set<ChildProcess>();
t.teardown(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// Parsed JSON log lines: any field may be read.
type Line = Record<string, any>;

/** A running CLI process whose stderr is parsed as it arrives. */
interface Proc {
  child: ChildProcess;
  stdout: () => string;
  /** Every stderr line; a line that is not JSON fails the test that reads it. */
  lines: () => Line[];
  raw: () => string;
  /** Resolves with the first stderr line `pred` accepts (rejects after `ms` or at exit). */
  waitFor: (pred: (l: Line) => boolean, what: string, ms?: number) => Promise<Line>;
  exited: Promise<number | null>;
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => {
    err += d;
    for (const w of waiters) w();
  });
  const exited = new Promise<number | null>((r) =>
    child.on('close', (code) => {
      children.delete(child);
      for (const w of waiters) w();
      r(code);
    }),
  );
  const lines = (): Line[] =>
    err
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        try {
          return JSON.parse(l) as Line;
        } catch {
          return { notJson: l };
        }
      });
  const waitFor = (pred: (l: Line) => boolean, what: string, ms = 30_000): Promise<Line> =>
    new Promise((res, rej) => {
      const check = (): void => {
        const hit = lines().find(pred);
        if (hit !== undefined) done(() => res(hit));
        else if (child.exitCode !== null || child.signalCode !== null) done(() => rej(new Error(`exited before ${what}:\n${err}`)));
      };
      const timer = setTimeout(() => done(() => rej(new Error(`no ${what} within ${ms} ms:\n${err}`))), ms);
      const done = (f: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });
  return { child, stdout: () => out, lines, raw: () => err, waitFor, exited };
}

/** Run to completion. */
async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; lines: Line[]; raw: string }> {
  const p = spawnCli(args, env);
  const code = await p.exited;
  return { code, stdout: p.stdout(), lines: p.lines(), raw: p.raw() };
}

async function keygen(file: string): Promise<{ peerId: string; publicKey: string }> {
  const r = await runCli(['keygen', '--out', file, '--json']);
  if (r.code !== 0) throw new Error(r.raw);
  return JSON.parse(r.stdout) as { peerId: string; publicKey: string };
}

t.test('SIGHUP reloads the trust, logged and survived; SIGTERM still shuts down cleanly', async (t) => {
  for (const role of ['agent', 'gateway']) {
    const d = tmp();
    await keygen(join(d, 'key.json'));
    const p = spawnCli([role, '-d', d, '--link', 'tcp-listen://127.0.0.1:0']);
    await p.waitFor((l) => l.msg === 'agent started', `${role} started`);
    // SIGHUP re-reads the trust (trust.keysFile; none here): one info line saying what it found.
    const before = p.lines().filter((l) => l.msg === 'trust reloaded').length;
    p.child.kill('SIGHUP');
    await p.waitFor(() => p.lines().filter((l) => l.msg === 'trust reloaded').length === before + 1, 'the reload line');
    const hup = p.lines().filter((l) => l.msg === 'trust reloaded').at(-1)!;
    t.equal(hup.level, 30, `${role}: one info line`);
    t.match(hup, { trusted: 0, added: 0, removed: 0, closed: 0, keysFile: null });
    // Still serving after the HUP: a second one is answered the same way (a dead process cannot).
    p.child.kill('SIGHUP');
    await p.waitFor(() => p.lines().filter((l) => l.msg === 'trust reloaded').length === before + 2, 'a second reload line');
    t.equal(p.child.exitCode, null, `${role} still running`);
    p.child.kill('SIGTERM');
    t.equal(await p.exited, 0, `${role}: SIGTERM exits 0`);
    t.ok(p.lines().some((l) => l.msg === 'stopped'));
    t.same(p.lines().filter((l) => 'notJson' in l), [], 'every stderr line is JSON');
  }
});

t.test('fatal start-up errors are one JSON line in the log format', async (t) => {
  const d = tmp();
  const bad = join(d, 'bad.json');
  writeFileSync(bad, JSON.stringify({ subscriptions: { capacity: 100 } }));
  const cases: [args: string[], exit: number, type: string | RegExp, reason: string | RegExp, msg: RegExp][] = [
    [['agent', '--config', bad], 78, 'ConfigError', 'BadConfig', /bad\.json: \/subscriptions\/capacity: expected a power of two, got 100/],
    [['agent', '--config', join(d, 'missing.json')], 78, 'ConfigError', 'BadConfig', /missing\.json: cannot read: ENOENT/],
    [['agent', '-d', join(d, 'nokey')], 78, /^(KeyFileError|ConfigError)$/, /^[A-Z]\w+$/, /no key file; create one with: syncwire keygen/],
    [['agent', '--frob'], 2, 'UsageError', 'UsageError', /Unknown option '--frob'; run `syncwire agent --help`/],
    [['gateway', '-d', d], 2, 'UsageError', 'UsageError', /a gateway needs links/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  cases.forEach(([args, exit, type, reason, msg], i) => {
    const r = results[i]!;
    const what = args.join(' ');
    t.equal(r.code, exit, `${what}: exit ${exit}`);
    t.same(r.lines.filter((l) => 'notJson' in l), [], `${what}: every stderr line is JSON`);
    const fatal = r.lines.filter((l) => l.level === 60);
    t.equal(fatal.length, 1, `${what}: one fatal line`);
    const f = fatal[0] ?? {};
    t.match(f, { name: `syncwire-${args[0]}`, pid: Number, hostname: String, time: Number, exitCode: exit, err: { type, reason, exitCode: exit } }, `${what}: pino fields`);
    t.match(f.msg, msg, `${what}: says why`);
    t.notOk('stack' in (f.err ?? {}), `${what}: an expected failure carries no stack`);
  });
});

t.test('a catch-up over a link: every command arrives; `self` is the agent, `peer` the remote', async (t) => {
  const [da, db] = [tmp(), tmp()];
  const [ka, kb] = await Promise.all([keygen(join(da, 'key.json')), keygen(join(db, 'key.json'))]);
  // A holds 400 commands of ~200 bytes in an open-read scope: more than B's first poll budgets
  // (4 KiB, doubling). Committed offline, in one session, into the scope A's config creates.
  const scope = 'fleet/boot';
  const cfgA = join(da, 'config.json');
  writeFileSync(cfgA, JSON.stringify({ dataDir: da, durability: 'none', scopes: { default: scope, create: [{ name: scope, openRead: true, retention: {}, members: [{ key: 'self', roles: 'rwa' }] }] } }));
  const lines = Array.from({ length: 400 }, (_, i) => `${String(i).padStart(3, '0')}${'x'.repeat(197)}`).join('\n') + '\n';
  const fill = spawn(process.execPath, [MAIN, 'commit', '-c', cfgA, '--stdin'], { env: baseEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  fill.stdin.end(lines);
  let ids = '';
  fill.stdout.on('data', (d: Buffer) => (ids += d));
  t.equal(await new Promise((r) => fill.on('close', r)), 0, 'the offline fill commits');
  t.equal(ids.split('\n').filter(Boolean).length, 400);

  const a = spawnCli(['agent', '-c', cfgA, '--link', 'tcp-listen://127.0.0.1:0', '--trust-key', kb.publicKey]);
  const open = await a.waitFor((l) => l.msg === 'transport open', 'A listening');
  const started = await a.waitFor((l) => l.msg === 'agent started', 'A started');
  t.equal(started.self, ka.peerId, '"agent started" names the agent itself `self`');
  t.notOk('peer' in started, '... and not `peer`');
  const b = spawnCli(['agent', '-d', db, '--link', `tcp://127.0.0.1:${open.port}`, '--trust-key', ka.publicKey, '--scope-join', scope]);
  const { apiRequest } = await import('../agent/api/api-client.js');
  const held = async (): Promise<number> => {
    try {
      const s = (await apiRequest({ socketPath: join(db, 'status.sock') }, 'GET', '/v1/status')).json as Line;
      return (s.scopes as Line[]).find((x) => x.name === scope && !x.joining)?.commands ?? -1;
    } catch {
      return -1;
    }
  };
  // The genesis and the 400 commands (polled: a fallback bound for a loaded machine, not a timing assertion).
  let have = -1;
  for (const by = Date.now() + 60_000; have !== 401 && Date.now() < by; ) {
    have = await held();
    if (have !== 401) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(have, 401, 'B caught up: the genesis and every command');
  for (const p of [b, a]) p.child.kill('SIGTERM');
  t.same(await Promise.all([b.exited, a.exited]), [0, 0]);
  const up = b.lines().find((l) => l.msg === 'peer up');
  t.equal(up?.peer, ka.peerId, '`peer` in B\'s log is the remote, A');
});

t.test('--print-config never prints the API token; trust labels print as an object', async (t) => {
  // Regression: the resolved config was printed as it was, bearer token included.
  const d = tmp();
  const token = 'tok-' + 'x'.repeat(28);
  const tokenFile = join(d, 'api.token');
  writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
  const keysFile = join(d, 'trusted.keys');
  writeFileSync(keysFile, `${'ab'.repeat(32)} gw-north\n`, { mode: 0o644 });
  const cfgFile = join(d, 'c.json');
  writeFileSync(cfgFile, JSON.stringify({ dataDir: join(d, 'data'), api: { listen: '127.0.0.1:8787', tokenFile }, trust: { keysFile } }));
  const r = await runCli(['agent', '--print-config', '--config', cfgFile]);
  t.equal(r.code, 0, r.raw);
  t.notMatch(r.stdout, token, 'the token is not printed');
  const printed = JSON.parse(r.stdout) as { api: { token: string; listen: unknown }; trust: { labels: Record<string, string> } };
  t.equal(printed.api.token, '***');
  t.same(printed.api.listen, { host: '127.0.0.1', port: 8787 });
  t.same(printed.trust.labels, { ['ab'.repeat(32)]: 'gw-north' });
});

t.test('SYNCWIRE_CONFIG and SYNCWIRE_LOG_LEVEL; flags win', async (t) => {
  const d = tmp();
  const cfgFile = join(d, 'env.json');
  writeFileSync(cfgFile, JSON.stringify({ dataDir: join(d, 'from-env'), log: { level: 'error' } }));
  const other = join(d, 'other.json');
  writeFileSync(other, JSON.stringify({ dataDir: join(d, 'from-flag') }));
  const [byEnv, flagWins, levelEnv, levelFlag, badLevel, empty] = await Promise.all([
    runCli(['agent', '--print-config'], { SYNCWIRE_CONFIG: cfgFile }),
    runCli(['agent', '--print-config', '--config', other], { SYNCWIRE_CONFIG: cfgFile }),
    runCli(['agent', '--print-config'], { SYNCWIRE_CONFIG: cfgFile, SYNCWIRE_LOG_LEVEL: 'debug' }),
    runCli(['agent', '--print-config', '--log-level', 'warn'], { SYNCWIRE_LOG_LEVEL: 'debug' }),
    runCli(['agent', '--print-config'], { SYNCWIRE_LOG_LEVEL: 'loud' }),
    runCli(['agent', '--print-config'], { SYNCWIRE_CONFIG: '', SYNCWIRE_LOG_LEVEL: '' }),
  ]);
  t.equal(JSON.parse(byEnv.stdout).dataDir, join(d, 'from-env'), 'SYNCWIRE_CONFIG names the config');
  t.equal(JSON.parse(byEnv.stdout).log.level, 'error');
  t.equal(JSON.parse(flagWins.stdout).dataDir, join(d, 'from-flag'), '--config wins');
  t.equal(JSON.parse(levelEnv.stdout).log.level, 'debug', 'SYNCWIRE_LOG_LEVEL overrides the config file');
  t.equal(JSON.parse(levelFlag.stdout).log.level, 'warn', '--log-level wins');
  t.equal(badLevel.code, 78);
  t.match(badLevel.lines.find((l) => l.level === 60)?.msg, /^SYNCWIRE_LOG_LEVEL: \/log\/level: expected "fatal"/, 'a bad value names the variable');
  t.equal(JSON.parse(empty.stdout).log.level, 'info', 'empty variables count as unset');

  // A running agent honours the level: at warn, no info lines.
  const dd = join(d, 'from-env');
  await keygen(join(dd, 'key.json'));
  const p = spawnCli(['agent'], { SYNCWIRE_CONFIG: cfgFile, SYNCWIRE_LOG_LEVEL: 'warn' });
  await p.waitFor((l) => l.msg === 'no links configured: this agent only keeps its own commands', 'the warn line');
  const st = await runCli(['status', '--json'], { SYNCWIRE_CONFIG: cfgFile });
  t.equal(st.code, 0, `status finds the agent through SYNCWIRE_CONFIG too: ${st.raw}`);
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
  t.same(p.lines().filter((l) => l.level < 40), [], 'nothing below warn');
});

