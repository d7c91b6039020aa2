/**
 * docs/STATUS.md documents every field of `syncwire status --json` of a protocol-2 node (the
 * default): a real gateway and agent run over TCP, and the gateway's printed snapshot must have
 * exactly the documented fields, each of the documented type — the section "Protocol 2" (its
 * table, and the v1 rows it names as kept: top-level fields and `peers[]` fields). Uses the
 * built CLI (dist/).
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

/** Rows `| path | type | meaning |` of `md` (a backticked or bare path), header and rule rows left out. */
function rows(md: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of md.matchAll(/^\| `?([A-Za-z][A-Za-z0-9.[\]]*)`? \| ([^|]+) \|/gm)) if (m[1] !== 'field') out.set(m[1]!, m[2]!.trim().split(' / '));
  return out;
}

/**
 * The fields docs/STATUS.md documents for a protocol-2 snapshot: the "Protocol 2" table, plus the
 * v1 rows its opening paragraph keeps ("It keeps v1's names …: `peerId`, …, and in `peers[]` the
 * fields `id`, …"), each with the rows under it (`lastError.atMs`, `transports[].url`, …).
 */
function documented(): Map<string, string[]> {
  const md = readFileSync(new URL('../docs/STATUS.md', import.meta.url), 'utf8');
  const at = md.indexOf('## Protocol 2');
  if (at < 0) throw new Error('docs/STATUS.md has no "## Protocol 2" section');
  const v1 = rows(md.slice(0, at));
  const section = md.slice(at);
  const kept = /It keeps v1's names where the meaning\s+is the same:([^]*?)and in `peers\[\]` the fields([^]*?)\./.exec(section);
  if (!kept) throw new Error('docs/STATUS.md "Protocol 2" no longer lists the v1 fields it keeps');
  const names = (text: string): string[] => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/ \(.*$/, ''));
  const out = rows(section);
  const keep = (prefix: string): void => {
    for (const [p, ty] of v1) if (p === prefix || p.startsWith(`${prefix}.`) || p.startsWith(`${prefix}[]`)) out.set(p, ty);
  };
  for (const n of names(kept[1]!)) keep(n);
  out.set('peers', v1.get('peers') ?? []);
  for (const f of names(kept[2]!)) out.set(`peers[].${f}`, v1.get(`peers[].${f}`) ?? []);
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
  // The gateway creates the agent's device scope once its link is up.
  await statusUntil(gw, (s) => s.scopes.some((x: any) => x.name === `device/${ak.peerId}` && !x.joining));
  const c = await run(['commit', '-d', gw, '--hex', 'cafe']);
  t.equal(c.code, 0, c.stderr);
  // Wait until every field has its steady shape: the scope active with the peer, subscribed both ways.
  await statusUntil(
    gw,
    (s) =>
      s.protocol === 2 &&
      s.scopes.some((x: any) => x.activePeers >= 1) &&
      s.peers.some((p: any) => p.authenticated && p.scopes.some((x: any) => x.peerSubscribed && x.subscription === 'subscribed')) &&
      s.subscriptions.used >= 1,
  );
  const out = await run(['status', '-d', gw, '--json']);
  t.equal(out.code, 0, out.stderr);
  const snapshot = JSON.parse(out.stdout) as unknown;
  const peers = (snapshot as { peers: { authenticated: boolean; sealed: boolean }[] }).peers;
  t.ok(peers.some((p) => p.authenticated && p.sealed), 'the TCP link is up and sealed (the default policy, require)');
  t.equal((snapshot as { protocol: number }).protocol, 2, 'a protocol-2 snapshot (the default)');

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
