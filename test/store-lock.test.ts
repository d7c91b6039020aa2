/**
 * One writer per data directory (agent/cli/lock.ts), with real processes on real files: the
 * lock cannot be fooled by a stale `syncwire.lock` (pid 1, a live pid, garbage), dies with its
 * holder (SIGKILL), makes concurrent `syncwire commit`s on a stopped agent and agent starts
 * racing commits lose nothing that was acknowledged, and names a live holder with exit 78.
 * Protocol 2 (the default): the data directory's scope comes from `scopes.create` of a config
 * file, and what was acknowledged is looked up in that scope's store.
 * Rounds: LOCK_COMMIT_ROUNDS (default 6) and LOCK_START_ROUNDS (default 3) for longer runs.
 * Build first: `npx tsc -p tsconfig.json`.
 */
import t, { type Test } from 'tap';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock, lockHolder, LockedError, LOCK_FILE } from '../agent/cli/lock.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { generateIdentity } from '../protocol/keys.js';
import { CliHarness, statusUntil } from '../testkit/cli-proc.js';
import { idsIn } from './engine-v2-kit.js';

const h = new CliHarness();
const STARTED = /"msg":"agent started"/;
const SCOPE = 'site/log';
t.teardown(() => h.cleanup());

/** A key and a protocol-2 config on `dir` whose agent creates {@link SCOPE}; returns the config's path. */
async function node(dir: string): Promise<string> {
  await h.keygen(join(dir, 'key.json'));
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({ protocol: 2, dataDir: dir, keyFile: join(dir, 'key.json'), scopes: { create: [{ name: SCOPE, members: [{ key: 'self', roles: 'rwa' }] }] } }), { mode: 0o600 });
  return cfg;
}

/** Every id in `ids` is in {@link SCOPE} of `dir`; returns its data commands (the genesis not counted). */
async function checkStore(t: Test, dir: string, ids: string[]): Promise<number> {
  const engine = await EngineV2.open({ identity: generateIdentity(), dataDir: dir, durability: { mode: 'none' } });
  try {
    const held = new Set(idsIn(engine, SCOPE));
    const lost = ids.filter((id) => !held.has(id));
    t.same(lost, [], `every acknowledged commit is in the scope (${ids.length})`);
    return held.size - 1;
  } finally {
    await engine.close();
  }
}

/** Data commands of {@link SCOPE} in a status snapshot. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- snapshots are read loosely in tests
const scopeCommands = (s: Record<string, any>): number => ((s.scopes as Array<{ name: string; commands: number }>).find((x) => x.name === SCOPE)?.commands ?? 1) - 1;

t.test('in one process: a second acquire sees the holder; release frees it; a symlink shares it', async (t) => {
  const dir = h.tmp();
  mkdirSync(join(dir, 'data'));
  symlinkSync(join(dir, 'data'), join(dir, 'alias'));
  const lock = await acquireLock(join(dir, 'data'), { role: 'agent', statusSocket: '/x.sock' });
  const err = await acquireLock(join(dir, 'alias'), { role: 'commit' }).catch((e: unknown) => e);
  t.type(err, LockedError, 'the same directory through a symlink is the same lock');
  t.equal((err as LockedError).holder?.pid, process.pid);
  t.equal((err as LockedError).holder?.role, 'agent');
  t.equal((err as LockedError).holder?.statusSocket, '/x.sock');
  t.equal((err as LockedError).exitCode, 78, 'an agent holder: two agents configured on one directory');
  t.match((err as LockedError).message, /held by process \d+ \(agent/);
  t.equal((await lockHolder(join(dir, 'data')))?.pid, process.pid);
  await lock.release();
  await lock.release(); // idempotent
  t.equal(await lockHolder(join(dir, 'data')), undefined, 'released');
  const again = await acquireLock(join(dir, 'alias'), { role: 'commit' });
  const busy = await acquireLock(join(dir, 'data'), { role: 'commit' }).catch((e: unknown) => e as LockedError);
  t.equal((busy as LockedError).exitCode, 75, 'a commit holder: try again later');
  await again.release();
});

t.test('a stale lock file never blocks a start: pid 1, a live pid, garbage', async (t) => {
  const dir = h.tmp();
  const cfg = await node(dir);
  const stale = ['1\n', `${process.pid}\n`, JSON.stringify({ pid: 1, role: 'agent', since: '2026-01-01T00:00:00Z' }) + '\n', '\0\0garbage'];
  for (const content of stale) {
    writeFileSync(join(dir, LOCK_FILE), content);
    const agent = h.start(['agent', '-c', cfg, '--log-level', 'info']);
    await agent.waitStderr(STARTED);
    const s = await statusUntil(join(dir, 'status.sock'), () => true);
    t.ok(s, `agent started over a lock file saying ${JSON.stringify(content.slice(0, 12))}`);
    const r = await agent.stop();
    t.equal(r.code, 0, 'clean stop');
  }
  // A direct commit, too, over a lock file naming pid 1 (an old agent in a container).
  writeFileSync(join(dir, LOCK_FILE), '1\n');
  const c = await h.run(['commit', '-c', cfg, '--text', 'over pid 1']);
  t.equal(c.code, 0, c.stderr);
  t.equal(await checkStore(t, dir, [c.stdout.trim()]), 1);
});

t.test('the lock dies with its holder: SIGKILL, then a start at once', async (t) => {
  const dir = h.tmp();
  await h.keygen(join(dir, 'key.json'));
  const a = h.start(['agent', '-d', dir, '--log-level', 'warn']);
  await statusUntil(join(dir, 'status.sock'), () => true);
  const killed = await a.stop('SIGKILL');
  t.equal(killed.signal, 'SIGKILL');
  t.equal(await lockHolder(dir), undefined, 'no holder once the process is gone');
  const b = h.start(['agent', '-d', dir, '--log-level', 'info']);
  await b.waitStderr(STARTED);
  // A second agent on the same directory: named, and exit 78 (systemd: do not restart).
  const second = await h.run(['agent', '-d', dir, '--status-socket', '', '--log-level', 'warn'], 60000);
  t.equal(second.code, 78, 'a live agent holds it: exit 78');
  t.match(second.stderr, /held by process \d+ \(agent/);
  t.equal((await b.stop()).code, 0);
});

t.test('concurrent commits on a stopped agent over a stale lock: many rounds, 0 lost', async (t) => {
  const dir = h.tmp();
  const cfg = await node(dir);
  const ROUNDS = Number(process.env.LOCK_COMMIT_ROUNDS ?? 6);
  const PER_ROUND = 3;
  const acked: string[] = [];
  let refused = 0;
  for (let round = 0; round < ROUNDS; round++) {
    writeFileSync(join(dir, LOCK_FILE), '1\n'); // what a crashed agent in a container leaves
    const rs = await Promise.all(Array.from({ length: PER_ROUND }, (_, i) => h.run(['commit', '-c', cfg, '--text', `r${round}c${i}`], 60000)));
    for (const r of rs) {
      if (r.code === 0) acked.push(r.stdout.trim());
      else refused++;
    }
  }
  t.equal(refused, 0, 'every commit waited for the lock and succeeded');
  t.equal(new Set(acked).size, acked.length, 'distinct ids');
  t.equal(await checkStore(t, dir, acked), acked.length, 'nothing overwritten, nothing extra');
});

t.test('agent starts racing commits over a stale lock: many rounds, 0 lost', async (t) => {
  const dir = h.tmp();
  const cfg = await node(dir);
  const ROUNDS = Number(process.env.LOCK_START_ROUNDS ?? 3);
  const acked: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    writeFileSync(join(dir, LOCK_FILE), '1\n');
    const agent = h.start(['agent', '-c', cfg, '--log-level', 'info']);
    const rs = await Promise.all([0, 1].map((i) => h.run(['commit', '-c', cfg, '--text', `start${round}c${i}`], 60000)));
    for (const r of rs) {
      t.equal(r.code, 0, `commit acknowledged ${r.stderr}`);
      if (r.code === 0) acked.push(r.stdout.trim());
    }
    await agent.waitStderr(STARTED);
    const s = await statusUntil(join(dir, 'status.sock'), () => true);
    t.ok(scopeCommands(s) >= acked.length, `round ${round}: the running agent holds every acknowledged commit`);
    const stopped = await agent.stop();
    t.equal(stopped.code, 0, 'clean stop');
  }
  t.equal(await checkStore(t, dir, acked), acked.length);
});
