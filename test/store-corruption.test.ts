/**
 * Corruption of a scope directory (docs/design/v2-scopes.md §5) is contained, never propagated.
 * Damage to a real scope store (a flipped bit, a zeroed 512-byte sector, a truncation, at random
 * offsets of a random segment or `members.log`) either is repaired — a damaged or torn tail of the
 * last segment or of `members.log` cut (quarantined first), a membership command lost from
 * `members.log` written again from its segment — costing at most the records the damaged bytes
 * overlap, or the open is refused with a typed StoreError (exit status 78) and nothing in the
 * directory is touched: damage that cannot be cut off at a tail would renumber handles. A damaged
 * `horizon.bin` is refused likewise. Also: a torn tail's lost commands come back from a peer by
 * the normal poll, and the real `syncwire agent` on damaged scope directories starts (nothing
 * acknowledged outside the damage lost) or exits 78 naming the way out.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import { writeKeyFile } from '../agent/cli/keys.js';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { HORIZON_FILE } from '../agent/store/horizon-file.js';
import { HEADER_BYTES } from '../agent/store/log-format.js';
import { FORMAT_V3 } from '../agent/store/log-format-v3.js';
import { scanRecords } from '../agent/store/log-scan.js';
import { applyDamage, type Damage } from '../agent/store/log-damage.js';
import { MEMBERS_FILE } from '../agent/store/members-log.js';
import { SCOPES_DIR } from '../agent/store/scope-dir.js';
import { DiskScopeStore } from '../agent/store/scope-store.js';
import { ScopeStoreError } from '../agent/store/scope-store-errors.js';
import { SEGMENT_PATTERN } from '../agent/store/segment-log.js';
import { StoreError } from '../agent/store/store-errors.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { mulberry32 } from '../testkit/prng.js';
import { randomScopeDag } from '../testkit/synthetic-commands-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'sw-scope-corrupt-'));
  dirs.push(d);
  return d;
};
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const NONE = { mode: 'none' } as const;
const KINDS: Damage['kind'][] = ['flip', 'sector', 'truncate'];

/** Every file of `dir` by name. */
function filesOf(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).sort().map((n) => [n, readFileSync(join(dir, n))]));
}

/** Id (hex) → record span `[start, end)` of every command record of the v3 record file `path`. */
function spansOf(path: string, scopeId: Uint8Array): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  const fd = openSync(path, 'r');
  try {
    scanRecords(fd, FORMAT_V3, HEADER_BYTES, statSync(path).size, (body, at) => {
      out.set(toHex(decodeCommandV2(scopeId, body).id), [at, at + FORMAT_V3.headBytes + body.length]);
      return null;
    });
  } finally {
    closeSync(fd);
  }
  return out;
}

/** A scope directory holding `cmds` (genesis first), several segments; its files. */
async function scopeDirOf(cmds: CommandV2[]): Promise<{ files: Map<string, Buffer>; scopeId: Uint8Array }> {
  const dir = tmp();
  const scopeId = cmds[0]!.id;
  const s = await DiskScopeStore.open(dir, { scopeId, durability: NONE, byteBound: 1 });
  for (const c of cmds) s.append(c, { frontier: 0 });
  await s.close();
  return { files: filesOf(dir), scopeId };
}

/** Where `err` is an acceptable refusal: a StoreError with exit status 78. */
const refusal = (err: unknown): boolean => err instanceof StoreError && err.exitCode === 78;

t.test('random damage to a segment or members.log: repaired at a tail, else refused with 78 and untouched', async (t) => {
  const cmds = randomScopeDag(900, 11, 12);
  const { files, scopeId } = await scopeDirOf(cmds);
  const segments = [...files.keys()].filter((n) => SEGMENT_PATTERN.test(n));
  t.ok(segments.length >= 3, `${segments.length} segments`);
  // Spans per file, computed once on the intact copy.
  const probe = tmp();
  for (const [n, b] of files) writeFileSync(join(probe, n), b);
  const spans = new Map([...files.keys()].filter((n) => n === MEMBERS_FILE || SEGMENT_PATTERN.test(n)).map((n) => [n, spansOf(join(probe, n), scopeId)]));
  const targets = [...spans.keys()];
  const rand = mulberry32(20261202);
  const TRIALS = 120;
  let refused = 0;
  let repaired = 0;
  let lostOutside = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const kind = KINDS[trial % 3]!;
    // The last segment and members.log (where tails are repaired) more often than the others.
    const r = rand();
    const target = r < 0.35 ? segments[segments.length - 1]! : r < 0.6 ? MEMBERS_FILE : targets[Math.floor(rand() * targets.length)]!;
    const dir = tmp();
    const { bytes, damage } = applyDamage(files.get(target)!, kind, rand);
    for (const [n, b] of files) writeFileSync(join(dir, n), n === target ? bytes : b);
    const before = filesOf(dir);
    const what = `trial ${trial} (${kind} ${damage.start}..${damage.end} of ${target})`;
    let s: DiskScopeStore;
    try {
      s = await DiskScopeStore.open(dir, { scopeId, durability: NONE });
    } catch (err) {
      refused++;
      if (!refusal(err)) t.fail(`${what}: not a typed refusal: ${String(err)}`);
      const after = filesOf(dir);
      const changed = [...new Set([...before.keys(), ...after.keys()])].filter((n) => !after.get(n)?.equals(before.get(n) ?? Buffer.alloc(0)) || !before.has(n));
      if (changed.length > 0) t.fail(`${what}: a refused open changed the directory: ${changed.join(", ")}; ${String(err)}`);
      rmSync(dir, { recursive: true });
      continue;
    }
    repaired += s.openReport.truncatedBytes > 0 || s.openReport.recoveredMembers > 0 ? 1 : 0;
    const hitSpans = spans.get(target)!;
    for (const c of cmds) {
      const sp = hitSpans.get(toHex(c.id));
      const hit = sp !== undefined && damage.start < damage.end && sp[0] < damage.end && damage.start < sp[1];
      if (!hit && s.indexOf(c.id) < 0) {
        lostOutside++;
        t.fail(`${what}: command ${toHex(c.id).slice(0, 12)} outside the damage lost`);
        break;
      }
    }
    const size = s.size;
    await s.close();
    const again = await DiskScopeStore.open(dir, { scopeId, durability: NONE });
    if (again.size !== size || again.openReport.truncatedBytes !== 0 || again.openReport.recoveredMembers !== 0) t.fail(`${what}: reopen not clean: ${JSON.stringify(again.openReport)}`);
    await again.close();
    rmSync(dir, { recursive: true });
  }
  t.equal(lostOutside, 0, 'no command outside the damaged bytes lost');
  t.ok(refused > 10 && refused < TRIALS, `some refused (${refused}), some opened (${TRIALS - refused})`);
  t.ok(repaired > 5, `tails repaired in ${repaired} trials`);
});

t.test('a damaged horizon.bin, a foreign file, a newer layout: refused with 78, nothing changed', async (t) => {
  const cmds = randomScopeDag(200, 3);
  const { files, scopeId } = await scopeDirOf(cmds);
  const seg = [...files.keys()].find((n) => SEGMENT_PATTERN.test(n))!;
  const hz = Buffer.from('SWHZN001\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000hello', 'latin1');
  const cases: Array<[string, string, Buffer, RegExp]> = [
    ['horizon.bin with a bad CRC', HORIZON_FILE, hz, /horizon/],
    ['a foreign members.log', MEMBERS_FILE, Buffer.from("hello, I am somebody else's file"), /members\.log/],
    ['a segment of a newer layout', seg, Buffer.concat([Buffer.from(files.get(seg)!.subarray(0, 8)), Buffer.from([9, 0, 0, 0]), files.get(seg)!.subarray(12)]), /seg-/],
  ];
  for (const [what, name, bytes, names] of cases) {
    const dir = tmp();
    for (const [n, b] of files) writeFileSync(join(dir, n), n === name ? bytes : b);
    if (!files.has(name)) writeFileSync(join(dir, name), bytes);
    const before = filesOf(dir);
    const err = await DiskScopeStore.open(dir, { scopeId, durability: NONE }).then(
      (s) => s.close().then(() => null),
      (e: unknown) => e,
    );
    t.ok(refusal(err), `${what}: a StoreError with exit status 78 (${String(err)})`);
    t.match(String((err as Error).message), names, `${what}: the error names the file`);
    if (name === HORIZON_FILE) t.match(err, { scopeReason: 'bad-horizon' });
    t.same([...filesOf(dir)].map(([n, b]) => [n, toHex(b)]), [...before].map(([n, b]) => [n, toHex(b)]), `${what}: untouched`);
  }
  t.ok(new ScopeStoreError('bad-segment', undefined, 'x').exitCode === 78, 'a scope refusal exits 78');
});

t.test('a torn tail: the cut commands come back from a peer by the normal poll', async (t) => {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const trust = (k: Uint8Array) => ({ mode: 'list' as const, keys: [k] });
  const dataDir = tmp();
  const a1 = await EngineV2.open({ identity: ia, trust: trust(ib.publicKey), dataDir, durability: NONE, tuning: FAST_V2 });
  await a1.createScope({ name: 'site/log', members: [{ publicKey: ia.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  for (let i = 0; i < 20; i++) await a1.commit('site/log', new TextEncoder().encode(`telemetry ${i}`));
  const all = idsIn(a1, 'site/log');
  const scopeDir = join(dataDir, SCOPES_DIR, a1.scopes()[0]!.id);
  await a1.close();
  // The peer got everything before the damage (a memory store is enough).
  const b = await EngineV2.open({ identity: ib, trust: trust(ia.publicKey), tuning: { ...FAST_V2, subscribe: false }, scopes: { join: ['site/log'] } });
  t.teardown(() => b.close());
  {
    const a0 = await EngineV2.open({ identity: ia, trust: trust(ib.publicKey), dataDir, durability: NONE, tuning: FAST_V2 });
    const [la, lb] = createMemoryLinkPair();
    a0.attach(la);
    b.attach(lb);
    await until(() => idsIn(b, 'site/log').length === all.length, 20_000, 'the peer holds the scope');
    await a0.close();
  }
  // A power cut tore the last record of the segment: a flip in its last bytes.
  const seg = readdirSync(scopeDir).filter((n) => SEGMENT_PATTERN.test(n)).sort().pop()!;
  const bytes = readFileSync(join(scopeDir, seg));
  bytes[bytes.length - 3]! ^= 0x10;
  writeFileSync(join(scopeDir, seg), bytes);
  const a2 = await EngineV2.open({ identity: ia, trust: trust(ib.publicKey), dataDir, durability: NONE, tuning: { ...FAST_V2, subscribe: false } });
  t.teardown(() => a2.close());
  const store = a2.scope('site/log')!.store as DiskScopeStore;
  t.ok(store.openReport.truncatedBytes > 0, 'the damaged tail was cut');
  t.equal(idsIn(a2, 'site/log').length, all.length - 1, 'one command lost to the damage');
  t.ok(readdirSync(scopeDir).some((n) => n.includes('.quarantine-')), 'its bytes quarantined');
  const [la, lb] = createMemoryLinkPair();
  a2.attach(la);
  b.attach(lb);
  await until(() => idsIn(a2, 'site/log').length === all.length, 20_000, 'the normal poll brought it back');
  t.same(idsIn(a2, 'site/log'), all, 'the scope is whole again');
});

// ---- the real agent ------------------------------------------------------------------------

const MAIN = fileURLToPath(new URL('../dist/agent/cli/main.js', import.meta.url));
const childEnv = { ...process.env, NODE_OPTIONS: '' };

/** Run `syncwire agent -d dir`; SIGTERM it once it logs `agent started`. */
function agentRun(dir: string): Promise<{ code: number | null; started: boolean; out: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [MAIN, 'agent', '-d', dir, '--status-socket', ''], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let started = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const seen = (s: string): void => {
      out += s;
      if (!started && /agent started/.test(out)) {
        started = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.setEncoding('utf8').on('data', seen);
    child.stderr.setEncoding('utf8').on('data', seen);
    child.on('error', rej);
    child.on('close', (code) => (clearTimeout(killer), res({ code, started, out })));
  });
}

t.test('damaged scope directories under real `syncwire agent` starts: starts or exits 78, nothing outside the damage lost', async (t) => {
  if (!existsSync(MAIN)) return t.fail(`${MAIN} is missing: run \`npx tsc -p tsconfig.json\` first`);
  const base = tmp();
  const identity = generateIdentity();
  writeKeyFile(join(base, 'key.json'), identity);
  const e = await EngineV2.open({ identity, dataDir: base, durability: { mode: 'always' } });
  await e.createScope({ name: 'site/log', members: [{ publicKey: identity.publicKey, roles: Role.Read | Role.Write | Role.Admin }] });
  for (let i = 0; i < 16; i++) await e.commit('site/log', new TextEncoder().encode(`reading ${i} ${'x'.repeat(i * 37)}`));
  const acked = idsIn(e, 'site/log');
  const scopeId = e.scope('site/log')!.id;
  const rel = join(SCOPES_DIR, toHex(scopeId));
  await e.close();
  const files = filesOf(join(base, rel));
  const seg = [...files.keys()].find((n) => SEGMENT_PATTERN.test(n))!;
  const segSpans = spansOf(join(base, rel, seg), scopeId);
  const rand = mulberry32(77);
  let started = 0;
  let exited78 = 0;
  const TRIALS = 6;
  for (let trial = 0; trial < TRIALS; trial++) {
    const dir = tmp();
    // Every third trial near the end of the segment (a torn tail, repaired), the others anywhere.
    const { bytes, damage } = applyDamage(files.get(seg)!, KINDS[trial % 3]!, trial % 3 === 0 ? () => 0.98 + rand() * 0.02 : rand);
    writeFileSync(join(dir, 'key.json'), readFileSync(join(base, 'key.json')), { mode: 0o600 });
    const sd = join(dir, rel);
    await import('node:fs').then((fs) => fs.mkdirSync(sd, { recursive: true, mode: 0o700 }));
    for (const [n, b] of files) writeFileSync(join(sd, n), n === seg ? bytes : b);
    const r = await agentRun(dir);
    const what = `trial ${trial} (${damage.kind} ${damage.start}..${damage.end})`;
    if (r.started) {
      started++;
      const s = await DiskScopeStore.open(sd, { scopeId, durability: NONE });
      for (const id of acked) {
        const sp = segSpans.get(id);
        const hit = sp !== undefined && damage.start < damage.end && sp[0] < damage.end && damage.start < sp[1];
        if (!hit && s.indexOf(Buffer.from(id, 'hex')) < 0) t.fail(`${what}: acknowledged ${id.slice(0, 12)} lost`);
      }
      await s.close();
    } else {
      exited78 += r.code === 78 ? 1 : 0;
      if (r.code !== 78) t.fail(`${what}: agent exited ${r.code}: ${r.out.slice(-400)}`);
      t.match(r.out, /seg-\d+\.log/, `${what}: the refusal names the segment`);
      t.match(r.out, /store salvage/, `${what}: and the way out`);
    }
  }
  t.equal(started + exited78, TRIALS, `every agent started (${started}) or exited 78 (${exited78})`);
  t.ok(started > 0, 'a torn tail does not stop the agent');
});
