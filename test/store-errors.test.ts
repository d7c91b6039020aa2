/**
 * Named store errors and the exit status they end a command with: every failure of agent/store a
 * user can reach — the scope stores, and the legacy v1 log that `legacy/v1` reads — is a
 * StoreError (with a reason) or a StoreWriteError, and the CLI maps them through exit-status.ts:
 * `not a syncwire log` exits 78 (EX_CONFIG, systemd does not restart), proven by running the
 * compiled CLI. Build first: `npx tsc -p tsconfig.json`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { EXIT } from '../agent/cli/exit-codes.js';
import { exitStatusOf } from '../agent/cli/exit-status.js';
import { DiskStore, LOG_FILE, parseDurability } from '../agent/store/disk-store.js';
import { MEMBERS_FILE } from '../agent/store/members-log.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { SCOPES_DIR } from '../agent/store/scope-dir.js';
import { DiskScopeStore } from '../agent/store/scope-store.js';
import { STORE_EXIT, StoreError, type StoreErrorReason } from '../agent/store/store-errors.js';
import { StoreWriteError } from '../agent/store/write-error.js';
import { toHex } from '../protocol/keys.js';
import { syntheticCommandV2, syntheticGenesis } from '../testkit/synthetic-commands-v2.js';

const MAIN = resolve('dist/agent/cli/main.js');
const dirs: string[] = [];
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'swse-'));
  dirs.push(d);
  return d;
};

/**
 * Run the compiled CLI (without tap's instrumentation: it costs ~300 ms a spawn); with `untilLine`,
 * SIGTERM it once stderr shows that line (an agent that started). Killed after 60 s regardless.
 */
function cli(args: string[], untilLine?: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_')));
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (untilLine?.test(stderr) === true) child.kill('SIGTERM');
    });
    child.on('close', (code) => (clearTimeout(killer), done({ code, stdout, stderr })));
  });
}

/** The fatal JSON line an agent writes before it exits. */
function fatalLine(stderr: string): { err?: { type?: string; reason?: string }; exitCode?: number } {
  const line = stderr.split('\n').find((l) => l.includes('"level":60'));
  return line === undefined ? {} : (JSON.parse(line) as { err?: { type?: string; reason?: string }; exitCode?: number });
}

const genesis = syntheticGenesis('test/errors');
const command = (parents: Uint8Array[], seq: number) => syntheticCommandV2(genesis.id, parents, seq, Uint8Array.of(seq));
const NONE = { mode: 'none' } as const;

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

t.test('the scope stores throw named errors on every path a caller can reach', async (t) => {
  const foreign = tmp();
  writeFileSync(join(foreign, MEMBERS_FILE), 'hello, I am somebody else\'s file');
  t.match(await caught(() => DiskScopeStore.open(foreign, { scopeId: genesis.id, durability: NONE })), { name: 'StoreError', reason: 'not-a-log', exitCode: 78, message: /members\.log/ });
  const legacy = tmp();
  writeFileSync(join(legacy, LOG_FILE), 'hello, I am somebody else\'s file');
  t.match(await caught(() => DiskStore.open(legacy, { durability: NONE })), { name: 'StoreError', reason: 'not-a-log', exitCode: 78, message: /not a syncwire command log/ }, 'the legacy reader too');

  const dir = tmp();
  const s = await DiskScopeStore.open(dir, { scopeId: genesis.id, durability: NONE });
  t.match(await caught(() => DiskScopeStore.open(dir, { scopeId: genesis.id, durability: NONE })), { name: 'StoreError', reason: 'already-open', message: /already open/ });
  s.appendWritten(genesis, { frontier: 0 });
  const orphan = command([command([genesis.id], 1).id], 2);
  t.match(await caught(() => s.append(orphan, { frontier: 0 })), { name: 'StoreError', reason: 'missing-parent', message: /a parent is neither held nor in the horizon/ });
  t.match(await caught(() => s.appendWritten(orphan, { frontier: 0 })), { name: 'StoreError', reason: 'missing-parent' });
  s.append(command([genesis.id], 1), { frontier: 0 });
  await s.close();
  t.match(await caught(() => s.bytesOf(0)), { name: 'StoreError', reason: 'closed', exitCode: 1 });
  t.match(await caught(() => s.append(command([genesis.id], 3), { frontier: 0 })), { name: 'StoreError', reason: 'closed' });
  t.match(await caught(() => s.sync()), { name: 'StoreError', reason: 'closed' });
  t.match(await caught(() => s.appendWritten(command([genesis.id], 3), { frontier: 0 })), { name: 'StoreWriteError', reason: 'closed' }, 'a refused commit stays a write error');

  const m = new MemoryScopeStore(genesis.id);
  m.append(genesis, { frontier: 0 });
  t.match(await caught(() => m.append(orphan, { frontier: 0 })), { name: 'StoreError', reason: 'missing-parent' });
  await m.close();
  t.match(await caught(() => m.append(command([genesis.id], 4), { frontier: 0 })), { name: 'StoreError', reason: 'closed' });

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

t.test('CLI: a scope directory or a legacy log holding a foreign file exits 78 with the StoreError in the fatal line', async (t) => {
  if (!existsSync(MAIN)) return t.fail(`${MAIN} is missing: build first`);
  const dir = tmp();
  t.equal((await cli(['keygen', '--out', join(dir, 'key.json')])).code, 0, 'keygen');
  // A scope directory whose genesis cannot be read is left alone, and said at error.
  const scopeDir = join(dir, SCOPES_DIR, toHex(genesis.id));
  mkdirSync(scopeDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(scopeDir, MEMBERS_FILE), 'hello, I am somebody else\'s file');
  const skipped = await cli(['agent', '-d', dir, '--status-socket', ''], /agent started/);
  t.match(skipped.stderr, /"level":50.*scope directory skipped: its genesis cannot be read/, 'the agent names the scope directory it does not serve');
  t.match(skipped.stderr, new RegExp(toHex(genesis.id)));
  rmSync(join(dir, SCOPES_DIR), { recursive: true });

  writeFileSync(join(dir, LOG_FILE), 'hello, I am somebody else\'s file');
  const legacy = await cli(['agent', '-d', dir, '--status-socket', '']);
  t.equal(legacy.code, EXIT.config, `agent on a foreign legacy log: 78 (${legacy.stderr})`);
  t.match(fatalLine(legacy.stderr), { exitCode: 78, err: { type: 'StoreError', reason: 'not-a-log' } }, 'the fatal line names the error and its reason');
  const again = await cli(['commit', '-d', dir, '--text', 'x']);
  t.equal(again.code, EXIT.config, `commit: 78 (${again.stderr})`);
  t.match(again.stderr, /not a syncwire command log/);
});
