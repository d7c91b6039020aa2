/**
 * The package as a user gets it: a fresh copy of the work tree (what git would check out: tracked
 * and untracked-but-not-ignored files, so no dist/) is packed with `npm pack` (its `prepack`
 * builds dist/), the tarball is installed into an empty directory with `--omit=dev`, and the
 * installed `syncwire` bin is run: `--help`, `demo` without the optional broker (a clear message),
 * `demo` after `npm install aedes` (converges), `agent` starting and stopping cleanly.
 *
 * Slow (a TypeScript build and two npm installs, ~1 min on an idle 2-core machine); offline when
 * npm's cache holds the dependencies (`--prefer-offline`), as it does after `npm ci`.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { sleep } from '../testkit/wait.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a user's shell: without npm's per-run variables (set under `npm test` or
 * `npx`, they would leak the outer project into the inner npm) and without tap's (its
 * NODE_OPTIONS loaders and coverage would run inside the installed package).
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const drop = (k: string) => (k.startsWith('npm_') && !keep.has(k)) || /^(node_options|node_v8_coverage|tap|_tapjs)/.test(k);
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop(k.toLowerCase())));
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 240_000): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'syncwire-pack-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

t.test('npm pack on a fresh copy, install into an empty directory, run the bin', async (t) => {
  // A fresh checkout of the work tree, with the already-installed node_modules linked in.
  const src = join(work, 'src');
  const listed = await run('git', ['ls-files', '-co', '--exclude-standard', '-z'], ROOT);
  t.equal(listed.code, 0, listed.stderr);
  for (const rel of listed.stdout.split('\0').filter(Boolean)) {
    const from = join(ROOT, rel);
    if (!existsSync(from) || !lstatSync(from).isFile()) continue; // deleted in the tree, or a symlink
    mkdirSync(dirname(join(src, rel)), { recursive: true });
    copyFileSync(from, join(src, rel));
  }
  t.notOk(existsSync(join(src, 'dist')), 'the copy has no dist/ (it is ignored)');
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');

  const packed = await run('npm', ['pack', '--pack-destination', work, '--json'], src);
  t.equal(packed.code, 0, `npm pack (prepack builds dist/): ${packed.stderr.slice(-2000)}`);
  if (packed.code !== 0) return;
  const info = (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[]; size: number; unpackedSize: number }[])[0]!;
  const files = info.files.map((f) => f.path);
  t.comment(`tarball ${info.filename}: ${files.length} files, ${info.size} B packed, ${info.unpackedSize} B unpacked`);

  // The whitelist: the built product, the docs the CLI points to, README, LICENSE, package.json.
  const allowed = /^(package\.json|README\.md|LICENSE|agent\/cli\/config\.example\.json|docs\/(PROTOCOL|ARCHITECTURE)\.md|docs\/syncwire\.service|dist\/(agent|protocol|firmware-sim)\/.+\.(js(\.map)?|d\.ts))$/;
  t.same(files.filter((f) => !allowed.test(f)), [], 'nothing outside the whitelist is shipped');
  t.notOk(files.some((f) => /^(test|testkit|bench|scripts)\/|^dist\/(test|testkit|bench|scripts)\//.test(f)), 'no tests, testkit, benches or scripts');
  t.notOk(files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no TypeScript sources (declarations only)');
  for (const f of ['dist/agent/index.js', 'dist/agent/index.d.ts', 'dist/agent/cli/main.js', 'LICENSE', 'README.md', 'docs/PROTOCOL.md', 'docs/syncwire.service', 'agent/cli/config.example.json']) t.ok(files.includes(f), `ships ${f}`);

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'syncwire-consumer', private: true }));
  const tarball = join(work, info.filename);
  const inst = await run('npm', ['install', tarball, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], app);
  t.equal(inst.code, 0, `npm install <tarball>: ${inst.stderr.slice(-2000)}`);
  const mods = readdirSync(join(app, 'node_modules'));
  t.notOk(mods.includes('aedes'), 'the demo broker (an optional peer) is not installed by a production install');
  t.notOk(mods.includes('typescript') || mods.includes('tap'), 'no dev dependencies');

  const help = await run('npx', ['--no-install', 'syncwire', '--help'], app);
  t.equal(help.code, 0, help.stderr);
  t.match(help.stdout, /^Commands:$/m);
  const version = await run('npx', ['--no-install', 'syncwire', '--version'], app);
  t.match(version.stdout, /^syncwire \d+\.\d+\.\d+/, 'the bin finds its package.json');

  const noBroker = await run('npx', ['--no-install', 'syncwire', 'demo', '-n', '2', '-q'], app);
  t.equal(noBroker.code, 1, 'demo without aedes fails');
  t.match(noBroker.stderr, 'npm install aedes', 'and says how to get the broker');
  t.match(noBroker.stderr, '--mqtt', 'or how to use one of your own');
  t.notMatch(noBroker.stderr, /\n\s+at /, 'a message, not a stack trace');

  const aedes = await run('npm', ['install', 'aedes@^1.2.0', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], app);
  t.equal(aedes.code, 0, `npm install aedes: ${aedes.stderr.slice(-2000)}`);
  const demo = await run('npx', ['--no-install', 'syncwire', 'demo', '-n', '3', '-q'], app);
  t.equal(demo.code, 0, `demo from the installed package: ${demo.stderr.slice(-2000)}`);
  t.match(demo.stdout, /^converged: \d+ peers, \d+ commands, heads /m);

  // agent: starts (its status socket answers), stops on SIGTERM with status 0, releases its lock.
  const data = join(work, 'agent-data');
  const key = await run('npx', ['--no-install', 'syncwire', 'keygen', '--out', join(data, 'key.json')], app);
  t.equal(key.code, 0, key.stderr);
  const bin = join(app, 'node_modules', '.bin', 'syncwire');
  const agent = spawn(bin, ['agent', '-d', data], { cwd: app, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let agentErr = '';
  agent.stderr.on('data', (b: Buffer) => (agentErr += b.toString()));
  const exited = new Promise<number | null>((r) => agent.on('close', (code) => r(code)));
  let up = false;
  for (let i = 0; i < 200 && !up && agent.exitCode === null; i++) {
    up = (await run(bin, ['status', '-d', data, '--json'], app, 30_000)).code === 0;
    if (!up) await sleep(100);
  }
  t.ok(up, `the installed agent runs and answers status: ${agentErr.slice(-1000)}`);
  agent.kill('SIGTERM');
  t.equal(await exited, 0, `agent stops cleanly on SIGTERM: ${agentErr.slice(-1000)}`);
  t.notOk(existsSync(join(data, 'syncwire.lock')), 'lock released');

  // The library: `import { startAgent } from 'syncwire'` in plain ESM, and its types in TypeScript.
  writeFileSync(
    join(app, 'use.mjs'),
    `import { ensureKeyFile, startAgent } from 'syncwire';
const dir = process.argv[2];
ensureKeyFile(dir + '/key.json');
const scopes = { default: 'local/app', create: [{ name: 'local/app', members: [{ key: 'self', roles: 'rwa' }] }] };
const agent = await startAgent({ dataDir: dir, log: { level: 'warn' }, scopes });
const { id, scope } = await agent.commit({ led: 1 });
for await (const c of agent.commands()) if (c.kind === 'data') console.log(c.id === id ? 'found ' + JSON.stringify(c.json) + ' in ' + scope : 'other');
await agent.close();
`,
  );
  const lib = await run(process.execPath, ['use.mjs', join(work, 'lib-data')], app);
  t.equal(lib.code, 0, `the library runs from the installed package: ${lib.stderr.slice(-1000)}`);
  t.equal(lib.stdout.trim(), 'found {"led":1} in local/app', 'commit and read back through the library (protocol 2, its scope)');
  writeFileSync(
    join(app, 'use.ts'),
    `import { startAgent, type AgentV2, type ScopeItem, type ScopedEntry } from 'syncwire';
export async function run(dir: string): Promise<string[]> {
  const agent: AgentV2 = await startAgent({ dataDir: dir, trust: { mode: 'list', keys: [] }, scopes: { default: 'local/app' } });
  const ids: string[] = [];
  for await (const c of (agent.commands({ follow: false }) satisfies AsyncIterable<ScopeItem>)) if ('id' in c) ids.push((c satisfies ScopedEntry).id);
  await agent.close();
  return ids;
}
`,
  );
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const types = await run(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types'), 'use.ts'], app);
  t.equal(types.code, 0, `a TypeScript consumer type-checks against the shipped .d.ts: ${types.stdout.slice(-2000)}`);
});
