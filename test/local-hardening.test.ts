/**
 * Local hardening, with real files, sockets and processes: keygen never writes its secret through
 * a planted symlink; key files and data directories owned by another user or open to group/others
 * are refused with exit 78 (the CLI from dist/: build first); the status socket is never
 * reachable with a mode looser than 0600, not even between bind and chmod (a second process
 * stats it in a tight loop while the API server starts 200 times); idle API connections are
 * closed, garbage bytes and oversized headers get a JSON 400 and a closed connection.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateIdentity } from '../protocol/keys.js';
import { writeKeyFile } from '../agent/cli/keys.js';
import { socketExchange } from '../testkit/socket-exchange.js';
import { startApiServer } from '../agent/api/server.js';
import type { ApiHost } from '../agent/api/api-host.js';

const MAIN = resolve('dist/agent/cli/main.js');
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json)`);
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_')),
);
const isRoot = process.geteuid?.() === 0;
/** `nobody` on Debian: "another user" for the ownership checks (chown needs root). */
const OTHER_UID = 65534;

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'swlh-'));
  dirs.push(d);
  return d;
};
t.teardown(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stderr });
    });
  });
}

t.test('keygen never writes the secret through a symlink planted at its temp name', async (tt) => {
  const d = tmp();
  const victim = join(d, 'readable-by-attacker');
  writeFileSync(victim, 'original\n', { mode: 0o644 });
  for (const force of [false, true]) {
    const key = join(d, `key-${force}.json`);
    if (force) writeKeyFile(key, generateIdentity());
    symlinkSync(victim, `${key}.${process.pid}.tmp`);
    tt.throws(() => writeKeyFile(key, generateIdentity(), force), { name: 'KeyFileError' }, `force=${force}: refused`);
    tt.equal(readFileSync(victim, 'utf8'), 'original\n', `force=${force}: the symlink target is untouched`);
    if (!force) tt.notOk(existsSync(key), 'the claimed name is released again');
    else tt.equal(statSync(key).mode & 0o777, 0o600, 'the existing key is kept');
  }
  const ok = join(d, 'ok.json');
  writeKeyFile(ok, generateIdentity());
  tt.equal(statSync(ok).mode & 0o777, 0o600, 'a normal keygen still writes a 0600 file');
});

t.test('key files: open modes and foreign owners are refused with exit 78', async (tt) => {
  const d = tmp();
  const data = join(d, 'data');
  const key = join(d, 'key.json');
  writeKeyFile(key, generateIdentity());
  chmodSync(key, 0o644);
  const loose = await run(['agent', '-d', data, '--key', key, '--status-socket', '']);
  tt.equal(loose.code, 78, '0644 key file: exit 78');
  tt.match(loose.stderr, 'must not be accessible by group or others');
  chmodSync(key, 0o600);
  if (!isRoot) {
    tt.comment('not root: cannot chown to another user; ownership case skipped');
    return;
  }
  chownSync(key, OTHER_UID, OTHER_UID);
  const foreign = await run(['agent', '-d', data, '--key', key, '--status-socket', '']);
  tt.equal(foreign.code, 78, 'key file owned by another user: exit 78');
  tt.match(foreign.stderr, `owned by uid ${OTHER_UID}`);
});

t.test('data directories writable by group/others or owned by another user are refused with exit 78', async (tt) => {
  const d = tmp();
  const key = join(d, 'key.json');
  writeKeyFile(key, generateIdentity());
  const open = join(d, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const r = await run(['agent', '-d', open, '--key', key, '--status-socket', '']);
  tt.equal(r.code, 78, '0777 data dir: exit 78');
  tt.match(r.stderr, 'group and others must not be able to write it');
  tt.same(readdirSync(open), [], 'nothing was created in it (no lock, no log, no probe)');
  const c = await run(['commit', '-d', open, '--key', key, '--socket', '', '--text', 'x']);
  tt.equal(c.code, 78, 'a direct commit into a 0777 data dir: exit 78');
  tt.same(readdirSync(open), [], 'the refused commit created nothing either');
  if (!isRoot) return;
  const foreign = join(d, 'foreign');
  mkdirSync(foreign, { mode: 0o700 });
  chownSync(foreign, OTHER_UID, OTHER_UID);
  const f = await run(['agent', '-d', foreign, '--key', key, '--status-socket', '']);
  tt.equal(f.code, 78, 'data dir owned by another user: exit 78');
  tt.match(f.stderr, `owned by uid ${OTHER_UID}`);
});

const START_ROUNDS = 200;
/** No request of these tests reaches the host. */
const host = {} as ApiHost;

t.test('the status socket is never reachable with a mode looser than 0600', async (tt) => {
  const d = tmp();
  const path = join(d, 'status.sock');
  const stop = join(d, 'stop');
  // A second process: stat the path as fast as it can, record every mode seen.
  const spinner = spawn(process.execPath, ['-e', `
    const fs = require('node:fs');
    const seen = new Set(); let stats = 0;
    const until = Date.now() + 60000;
    process.stdout.write('ready\\n');
    while (!fs.existsSync(${JSON.stringify(stop)}) && Date.now() < until) {
      try { seen.add(fs.statSync(${JSON.stringify(path)}).mode & 0o777); stats++; } catch {}
    }
    process.stdout.write(JSON.stringify({ modes: [...seen], stats }));
  `], { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((r) => spinner.stdout.on('data', (c: Buffer) => {
    out += c;
    if (out.startsWith('ready\n')) r();
  }));
  const done = new Promise((r) => spinner.on('close', r));
  await ready;
  // The old code's window (bind, then chmod) lasts microseconds: many starts give the spinner
  // many chances to land in it; the staged bind leaves it none.
  let bad = 0;
  for (let i = 0; i < START_ROUNDS; i++) {
    const s = await startApiServer({ socketPath: path }, host);
    if ((statSync(path).mode & 0o777) !== 0o600) bad++;
    await new Promise((r) => setTimeout(r, 2));
    await s.close();
  }
  tt.equal(bad, 0, `0600 after each of ${START_ROUNDS} starts`);
  writeFileSync(stop, '');
  await done;
  const r = JSON.parse(out.slice('ready\n'.length)) as { modes: number[]; stats: number };
  tt.comment(`spinner: ${r.stats} successful stats, modes seen: ${r.modes.map((m) => m.toString(8)).join(', ')}`);
  tt.ok(r.stats > 0, 'the spinner saw the socket');
  tt.same(r.modes, [0o600], 'never any mode but 0600');
  tt.same(readdirSync(d).filter((n) => n.startsWith('.s')), [], 'no staging directory left behind');
});


t.test('idle, garbage and oversized API connections are answered or closed', async (tt) => {
  const d = tmp();
  const path = join(d, 'status.sock');
  const s = await startApiServer({ socketPath: path, limits: { headersTimeoutMs: 300, requestTimeoutMs: 1000, checkIntervalMs: 100 } }, host);
  tt.teardown(() => s.close());
  tt.ok((await socketExchange(path, [])).closed, 'a connection that sends nothing is closed by the agent (headers timeout)');
  tt.ok((await socketExchange(path, ['GET /v1/status HTTP/1.1\r\nHost: x\r\n'])).closed, 'one that never finishes its headers too');

  const garbage = await socketExchange(path, ['x'.repeat(64 * 1024), '\0\xff\r\n\r\n']);
  tt.ok(garbage.closed, 'garbage bytes: the connection is closed');
  tt.match(garbage.answer, /^HTTP\/1\.1 400 /, 'after a 400');
  tt.match(garbage.answer, /"reason":"bad_request"/, 'with the JSON error body');

  const chunk = 'x'.repeat(64 * 1024);
  const huge = await socketExchange(path, ['GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: ', ...Array.from({ length: 20 }, () => chunk)]);
  tt.ok(huge.closed, 'headers over the limit: closed');
  tt.match(huge.answer, /^HTTP\/1\.1 400 [^]*"bad_request"/, 'after a JSON 400');
});
