/**
 * docs/STATUS.md documents every field of `syncwire status --json`: a real gateway and agent run
 * over TCP, and the gateway's printed snapshot must have exactly the documented fields, each of
 * the documented type. Uses the built CLI (dist/).
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { apiRequest } from '../agent/api/api-client.js';

const MAIN = resolve('dist/agent/cli/main.js');
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json)`);
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_')),
);
const dirs: string[] = [];
const children = new Set<ChildProcess>();
t.teardown(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'swst-'));
  dirs.push(d);
  return d;
};

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.resume();
  children.add(child);
  return child;
}

async function statusUntil(dataDir: string, ready: (s: Record<string, any>) => boolean): Promise<void> {
  const by = Date.now() + 60_000; // generous: a loaded 2-core machine
  let last = '';
  while (Date.now() < by) {
    try {
      const r = await apiRequest({ socketPath: join(dataDir, 'status.sock') }, 'GET', '/v1/status');
      last = r.text.slice(0, 300);
      if (ready(r.json as Record<string, any>)) return;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`status never ready: ${last}`);
}

/** JSON type names of a value as STATUS.md writes them. */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Every leaf path of `v` with its type: objects as `a.b`, arrays of objects as `a[].b`. */
function leaves(v: unknown, path: string, out: Map<string, Set<string>>): void {
  const add = (p: string, ty: string): void => {
    if (!out.has(p)) out.set(p, new Set());
    out.get(p)!.add(ty);
  };
  if (Array.isArray(v)) {
    if (v.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x))) {
      add(path, 'object[]');
      for (const x of v) leaves(x, `${path}[]`, out);
    } else for (const x of v) add(path, `${typeOf(x)}[]`);
    if (v.length === 0) add(path, 'empty[]');
    return;
  }
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) leaves(x, path === '' ? k : `${path}.${k}`, out);
    return;
  }
  add(path, typeOf(v));
}

/** The documented fields: `| \`path\` | type | meaning |` rows of docs/STATUS.md. */
function documented(): Map<string, string[]> {
  const md = readFileSync(new URL('../docs/STATUS.md', import.meta.url), 'utf8');
  const out = new Map<string, string[]>();
  for (const m of md.matchAll(/^\| `([^`]+)` \| ([^|]+) \|/gm)) out.set(m[1]!, m[2]!.trim().split(' / '));
  return out;
}

/** Whether an observed type is allowed by a documented one (`number` also admits integers). */
function allowed(seen: string, doc: string[]): boolean {
  if (seen === 'empty[]') return doc.some((d) => d.endsWith('[]'));
  return doc.includes(seen) || (seen === 'integer' && doc.includes('number')) || (seen === 'integer[]' && doc.includes('number[]'));
}

t.test('status --json prints exactly the fields docs/STATUS.md documents, with their types', async (t) => {
  const gw = tmp();
  const ag = tmp();
  const keygen = async (file: string): Promise<{ peerId: string; publicKey: string }> => {
    const r = await run(['keygen', '--out', file, '--json']);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as { peerId: string; publicKey: string };
  };
  const gk = await keygen(join(gw, 'key.json'));
  const ak = await keygen(join(ag, 'key.json'));
  start(['gateway', '-d', gw, '--listen', 'tcp-listen://127.0.0.1:0', '--trust-key', ak.publicKey]);
  let port = 0;
  await statusUntil(gw, (s) => (port = s.transports[0]?.localPort ?? 0) > 0);
  start(['agent', '-d', ag, '--link', `tcp://127.0.0.1:${port}`, '--trust-key', gk.publicKey]);
  const c = await run(['commit', '-d', gw, '--hex', 'cafe']);
  t.equal(c.code, 0, c.stderr);
  // Wait until every field has its steady shape: a peer up, polled at least once, subscribed.
  await statusUntil(gw, (s) => s.peers.some((p: any) => p.authenticated && p.sync.rounds >= 1 && p.sync.budget !== null) && s.subscriptions.used === 1);
  const out = await run(['status', '-d', gw, '--json']);
  t.equal(out.code, 0, out.stderr);
  const snapshot = JSON.parse(out.stdout) as unknown;
  const peers = (snapshot as { peers: { authenticated: boolean; sealed: boolean }[] }).peers;
  t.ok(peers.some((p) => p.authenticated && p.sealed), 'the TCP link is up and sealed (the default policy, require)');

  const seen = new Map<string, Set<string>>();
  leaves(snapshot, '', seen);
  const doc = documented();
  // Containers documented as object[] appear as their own rows; plain objects do not.
  const missing = [...seen.keys()].filter((p) => !doc.has(p));
  t.same(missing, [], 'every printed field is documented');
  // A field documented as `object / null` that printed null (lastError with no error) leaves its sub-fields unprinted.
  const nulled = (p: string): boolean => [...seen].some(([q, ty]) => p.startsWith(`${q}.`) && ty.has('null') && (doc.get(q) ?? []).includes('object'));
  // A plain object documented as a row of its own (`object`) is printed when any of its fields is.
  const opened = (p: string): boolean => (doc.get(p) ?? []).includes('object') && [...seen.keys()].some((q) => q.startsWith(`${p}.`));
  const unprinted = [...doc.keys()].filter((p) => !seen.has(p) && !nulled(p) && !opened(p));
  t.same(unprinted, [], 'every documented field is printed');
  for (const [p, types] of seen) {
    const d = doc.get(p);
    if (d === undefined) continue;
    for (const ty of types) t.ok(allowed(ty, d), `${p}: ${ty} is documented as ${d.join(' / ')}`);
  }
});
