/**
 * Named store errors and the exit status they end a command with: every failure of agent/store a
 * user can reach is a StoreError (with a reason) or a StoreWriteError, and the CLI maps them
 * through exit-status.ts — `not a syncwire log` exits 78 (EX_CONFIG, systemd does not restart),
 * proven by running the compiled CLI. Build first: `npx tsc -p tsconfig.json`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { EXIT } from '../agent/cli/exit-codes.js';
import { exitStatusOf } from '../agent/cli/exit-status.js';
import { DiskStore, LOG_FILE, parseDurability } from '../agent/store/disk-store.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { STORE_EXIT, StoreError, type StoreErrorReason } from '../agent/store/store-errors.js';
import { StoreWriteError } from '../agent/store/write-error.js';
import { encodeCommand, fingerprint } from '../protocol/command.js';
import { generateIdentity } from '../protocol/keys.js';

const MAIN = resolve('dist/agent/cli/main.js');
const dirs: string[] = [];
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'swse-'));
  dirs.push(d);
  return d;
};

/** Run the compiled CLI (without tap's instrumentation: it costs ~300 ms a spawn). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_')));
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** The fatal JSON line an agent writes before it exits. */
function fatalLine(stderr: string): { err?: { type?: string; reason?: string }; exitCode?: number } {
  const line = stderr.split('\n').find((l) => l.includes('"level":60'));
  return line === undefined ? {} : (JSON.parse(line) as { err?: { type?: string; reason?: string }; exitCode?: number });
}

const id = generateIdentity();
const command = (parents: Uint8Array[], seq: number) => encodeCommand({ parents, author: fingerprint(id.publicKey), seq, payload: Uint8Array.of(seq) }, id.sign);

async function caught(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (err) {
    return err;
  }
  return undefined;
}

t.test('each reason has one exit status: 78 where the operator must act, 1 for a misuse', async (t) => {
  const operator: StoreErrorReason[] = ['not-a-log', 'bad-header', 'unsupported-version', 'unwritable', 'bad-durability'];
  const misuse: StoreErrorReason[] = ['already-open', 'closed', 'missing-parent', 'short-read'];
  t.same(Object.keys(STORE_EXIT).sort(), [...operator, ...misuse].sort(), 'every reason is in the table');
  for (const r of operator) t.equal(new StoreError(r, '/x', 'm').exitCode, EXIT.config, r);
  for (const r of misuse) t.equal(new StoreError(r, '/x', 'm').exitCode, EXIT.failure, r);
});

t.test('the store throws named errors on every path a caller can reach', async (t) => {
  const foreign = tmp();
  writeFileSync(join(foreign, LOG_FILE), 'hello, I am somebody else\'s file');
  t.match(await caught(() => DiskStore.open(foreign, { durability: { mode: 'none' } })), { name: 'StoreError', reason: 'not-a-log', exitCode: 78, message: /not a syncwire command log/ });

  const dir = tmp();
  const s = await DiskStore.open(dir, { durability: { mode: 'none' } });
  t.match(await caught(() => DiskStore.open(dir, { durability: { mode: 'none' } })), { name: 'StoreError', reason: 'already-open', message: /already open/ });
  const orphan = command([command([], 1).id], 2);
  t.match(await caught(() => s.append(orphan)), { name: 'StoreError', reason: 'missing-parent', message: /a parent is not in the store/ });
  t.match(await caught(() => s.appendWritten(orphan)), { name: 'StoreError', reason: 'missing-parent' });
  s.append(command([], 1));
  await s.close();
  t.match(await caught(() => s.bytesOf(0)), { name: 'StoreError', reason: 'closed', exitCode: 1 });
  t.match(await caught(() => s.append(command([], 3))), { name: 'StoreError', reason: 'closed' });
  t.match(await caught(() => s.sync()), { name: 'StoreError', reason: 'closed' });
  t.match(await caught(() => s.appendWritten(command([], 3))), { name: 'StoreWriteError', reason: 'closed' }, 'a refused commit stays a write error');

  const m = new MemoryStore();
  t.match(await caught(() => m.append(orphan)), { name: 'StoreError', reason: 'missing-parent' });
  await m.close();
  t.match(await caught(() => m.append(command([], 4))), { name: 'StoreError', reason: 'closed' });

  t.match(await caught(() => parseDurability('sometimes')), { name: 'StoreError', reason: 'bad-durability', exitCode: 78, message: /^invalid durability "sometimes"/ });
});

t.test('exit statuses come from the table, never from a look-alike `exitCode`', async (t) => {
  t.equal(exitStatusOf(new StoreError('not-a-log', '/x', 'm')), EXIT.config);
  t.equal(exitStatusOf(new StoreError('closed', '/x', 'm')), EXIT.failure);
  t.equal(exitStatusOf(new StoreWriteError('disk-full', 'ENOSPC', 'm')), EXIT.tempFail);
  t.equal(exitStatusOf(new StoreWriteError('io-error', 'EIO', 'm')), EXIT.failure);
  t.equal(exitStatusOf(Object.assign(new Error('from a library'), { exitCode: 78 })), EXIT.failure, 'an unknown error carrying exitCode');
  t.equal(exitStatusOf({ exitCode: 2 }), EXIT.failure, 'a plain object');
  t.equal(exitStatusOf(undefined), EXIT.failure);
});

t.test('CLI: a data directory holding a foreign file exits 78 with the StoreError in the fatal line', async (t) => {
  if (!existsSync(MAIN)) return t.fail(`${MAIN} is missing: build first`);
  const dir = tmp();
  t.equal((await cli(['keygen', '--out', join(dir, 'key.json')])).code, 0, 'keygen');
  writeFileSync(join(dir, LOG_FILE), 'hello, I am somebody else\'s file');
  const agent = await cli(['agent', '-d', dir, '--status-socket', '']);
  t.equal(agent.code, EXIT.config, `agent: 78 (${agent.stderr})`);
  t.match(fatalLine(agent.stderr), { exitCode: 78, err: { type: 'StoreError', reason: 'not-a-log' } }, 'the fatal line names the error and its reason');
  const commit = await cli(['commit', '-d', dir, '--text', 'x']);
  t.equal(commit.code, EXIT.config, `commit into the store: 78 (${commit.stderr})`);
  t.match(commit.stderr, /not a syncwire command log/);
  const salvage = await cli(['store', 'salvage', '-d', dir]);
  t.equal(salvage.code, EXIT.config, 'salvage refuses a file without a single record: 78');
});
