/**
 * The per-scope stores (design v2 §5): append and reopen, segment rolls, prune then reopen (base,
 * pinned heads and members, horizon, deleted segments), gap markers, adoption, a damaged
 * horizon.bin, torn tails, the members.log crash rule, and a property test comparing the disk
 * store (reopened) with the memory store and an independent reference over random DAGs and
 * prune points. Also prints the memory of an idle scope (design §5.4).
 */
import t from 'tap';
import fc from 'fast-check';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { toHex } from '../protocol/keys.js';
import { recordHeadV3 } from '../agent/store/log-format-v3.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { HORIZON_FILE } from '../agent/store/horizon-file.js';
import { MEMBERS_FILE } from '../agent/store/members-log.js';
import { DiskScopeStore, type DiskScopeStoreOptions } from '../agent/store/scope-store.js';
import type { HorizonEntry, ScopeStore } from '../agent/store/scope-store-contract.js';
import { FdPool } from '../agent/store/fd-pool.js';
import { randomScopeDag, syntheticCommandV2, syntheticGenesis } from '../testkit/synthetic-commands-v2.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'syncwire-scope-'));
  dirs.push(d);
  return d;
};
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Frontier numbers the "engine" gave, by id, so the open hook can give them again. */
const frontiers = new Map<string, number>();
const frontierFor = (c: CommandV2): number => {
  const hex = toHex(c.id);
  if (!frontiers.has(hex)) frontiers.set(hex, frontiers.size % 5);
  return frontiers.get(hex)!;
};
let clock = 1_700_000_000;
const nowS = (): number => clock++;

function open(dir: string, scopeId: Uint8Array, more: Partial<DiskScopeStoreOptions> = {}): Promise<DiskScopeStore> {
  return DiskScopeStore.open(dir, { scopeId, durability: { mode: 'none' }, nowS, hooks: { frontier: (c) => frontierFor(c) }, ...more });
}

function appendAll(s: ScopeStore, cmds: CommandV2[]): void {
  for (const c of cmds) s.append(c, { frontier: frontierFor(c) });
}

/** Every observable field of a store, handle by handle (to compare a store with its reopened self). */
function snap(s: ScopeStore): unknown {
  const hex = (b: Uint8Array): string => toHex(b);
  const handles = [];
  for (let h = 0; h < s.size; h++) {
    if (!s.isRetained(h)) {
      handles.push(null);
      continue;
    }
    handles.push([
      hex(s.idOf(h)),
      s.indexOf(s.idOf(h)) === h,
      s.depthOf(h),
      s.parentsOf(h).join(),
      s.lengthOf(h),
      hex(s.authorOf(h).author),
      s.authorOf(h).seq,
      s.kindOf(h),
      s.frontierOf(h),
      s.appendedAtS(h),
      hex(s.bytesOf(h)),
      s.gapsBefore(h).map((g) => g.map((x) => `${hex(x.id)}:${x.depth}`).join()),
    ]);
  }
  const horizon = s.horizon().map((e) => `${hex(e.id)}:${e.depth}:${e.frontier.map(hex).join('+')}`).sort();
  return { size: s.size, base: s.base, heads: s.heads(), horizon, handles };
}

/** Independent reference: depth and heads from the commands alone. */
function reference(cmds: CommandV2[]): { depth: number[]; heads: number[] } {
  const at = new Map(cmds.map((c, i) => [toHex(c.id), i]));
  const depth: number[] = [];
  const hasChild = new Set<number>();
  cmds.forEach((c, i) => {
    const ps = c.parents.map((p) => at.get(toHex(p))!);
    ps.forEach((p) => hasChild.add(p));
    depth[i] = 1 + Math.max(0, ...ps.map((p) => depth[p]!));
  });
  return { depth, heads: cmds.map((_, i) => i).filter((i) => !hasChild.has(i)) };
}

/** The plan a planner would make pruning every non-head data command below `k`, with the brute-force horizon. */
function planBelow(s: ScopeStore, k: number): { prune: number[]; horizon: HorizonEntry[] } {
  const heads = new Set(s.heads());
  const prune: number[] = [];
  for (let h = 0; h < Math.min(k, s.size); h++) if (s.isRetained(h) && s.kindOf(h) === CommandKind.Data && !heads.has(h)) prune.push(h);
  const gone = new Set(prune);
  const horizon = new Map<string, HorizonEntry>(s.horizon().map((e) => [toHex(e.id), e]));
  for (const p of gone) horizon.set(toHex(s.idOf(p)), { id: s.idOf(p).slice(), depth: s.depthOf(p), frontier: [] });
  // Keep the entries that are still a parent of a retained command (brute force over the bytes).
  const named = new Set<string>();
  for (let h = 0; h < s.size; h++) {
    if (!s.isRetained(h) || gone.has(h)) continue;
    for (const p of decodeParents(s, h)) named.add(p);
  }
  return { prune, horizon: [...horizon.entries()].filter(([hex]) => named.has(hex)).map(([, e]) => e) };
}

function decodeParents(s: ScopeStore, h: number): string[] {
  const c = s.bytesOf(h);
  // parents array starts at byte 1: CBOR array head, then 34-byte entries (0x58 0x20 + id).
  const n = c[1]! & 0x1f;
  return Array.from({ length: n }, (_, i) => toHex(c.subarray(2 + i * 34 + 2, 2 + i * 34 + 34)));
}

t.test('append, reopen: every field, heads, frontier hook and membership hook in order', async (t) => {
  const dir = tmp();
  const cmds = randomScopeDag(300, 7, 10);
  const g = cmds[0]!;
  const s = await open(dir, g.id);
  appendAll(s, cmds);
  t.equal(s.append(cmds[5]!, { frontier: 0 }), 5, 'a duplicate returns its handle');
  await s.sync();
  const ref = reference(cmds);
  t.same(cmds.map((_, i) => s.depthOf(i)), ref.depth, 'depths match the reference');
  t.same(s.heads(), ref.heads, 'heads match the reference');
  const seen: string[] = [];
  const before = snap(s);
  await s.close();
  const r = await open(dir, g.id, { hooks: { frontier: (c) => frontierFor(c), membership: (c) => seen.push(toHex(c.id)) } });
  t.same(seen, cmds.filter((c) => c.kind !== CommandKind.Data).map((c) => toHex(c.id)), 'membership hook: every membership command, in order');
  t.equal(r.openReport.commands, 301);
  t.same(snap(r), before, 'reopened: every field of every handle');
  t.throws(() => r.append(syntheticCommandV2(g.id, [new Uint8Array(32)], 1, Uint8Array.of(1)), { frontier: 0 }), { name: 'StoreError', reason: 'missing-parent' });
  await t.rejects(open(dir, g.id), { name: 'StoreError', reason: 'already-open' }, 'a second open of one directory is refused');
  await r.close();
});

t.test('segments roll at the size rule and are named by their first handle', async (t) => {
  const dir = tmp();
  const cmds = randomScopeDag(1500, 3, 50);
  const s = await open(dir, cmds[0]!.id, { byteBound: 100_000 });
  appendAll(s, cmds);
  await s.close();
  const segs = readdirSync(dir).filter((n) => n.startsWith('seg-')).sort();
  t.ok(segs.length >= 2, `${segs.length} segments`);
  t.equal(segs[0], 'seg-00000000000000000000.log');
  for (const n of segs) t.ok(statSync(join(dir, n)).size < 64 * 1024 + 1100, `${n} within the 64 KiB roll + one record`);
  const r = await open(dir, cmds[0]!.id, { byteBound: 100_000 });
  t.equal(r.openReport.segments, segs.length);
  t.same(reference(cmds).heads, r.heads());
  for (let h = 0; h < cmds.length; h += 97) t.equal(toHex(r.bytesOf(h)), toHex(cmds[h]!.bytes), `bytes of ${h}`);
  await r.close();
});

t.test('prune, then reopen: base, pinned heads and members, horizon, deleted segments', async (t) => {
  const dir = tmp();
  const g = syntheticGenesis('test/prune');
  const cmds: CommandV2[] = [g];
  const side = syntheticCommandV2(g.id, [g.id], 1, Uint8Array.of(1)); // a head below everything pruned
  cmds.push(side);
  let prev = g.id;
  for (let i = 2; i < 2400; i++) {
    const c = syntheticCommandV2(g.id, [prev], i, new Uint8Array(100).fill(i & 0xff), i === 700 ? CommandKind.Membership : CommandKind.Data);
    cmds.push(c);
    prev = c.id;
  }
  const s = await open(dir, g.id, { byteBound: 100_000 });
  const mem = new MemoryScopeStore(g.id, { nowS });
  appendAll(s, cmds);
  const segsBefore = readdirSync(dir).filter((n) => n.startsWith('seg-')).length;
  clock = 1_700_000_000;
  const plan = planBelow(s, 2000);
  t.throws(() => s.state.prune({ prune: [1], horizon: [] }), RangeError, 'a head cannot be pruned');
  t.throws(() => s.state.prune({ prune: [700], horizon: [] }), RangeError, 'a membership command cannot be pruned');
  await s.prune(plan);
  t.equal(s.base, 2000, 'base is past the highest pruned handle');
  t.ok(s.isRetained(0) && s.isRetained(1) && s.isRetained(700), 'genesis, the kept head and the membership command are pinned');
  t.notOk(s.isRetained(2) || s.isRetained(1999), 'the rest below base is pruned');
  t.equal(s.indexOf(cmds[5]!.id), -1, 'a pruned id is not found');
  t.throws(() => s.idOf(5), RangeError, 'reading a pruned handle throws');
  t.equal(s.state.deadSlots, 0, 'pruning 1,998 of 2,400 freed their slots at once (a repack)');
  t.equal(s.append(cmds[1999]!, { frontier: 0 }), -1, 'a pruned horizon entry is not taken back');
  // The repack forgot the pruned slots; the store's recently pruned ids still refuse it (§11.3).
  t.equal(s.append(cmds[5]!, { frontier: 0 }), -1, 'a pruned command below the horizon is not taken back after the repack');
  const hz = s.horizon().map((e) => toHex(e.id)).sort();
  t.same(hz, [toHex(cmds[699]!.id), toHex(cmds[1999]!.id)].sort(), 'the horizon: the pruned parents of the membership command and of the first retained command');
  t.same(s.parentsOf(2000), [], 'a pruned parent is not a retained parent');
  t.equal(s.depthOf(2000), 2000);
  const segsAfter = readdirSync(dir).filter((n) => n.startsWith('seg-')).length;
  t.ok(segsAfter < segsBefore, `segments deleted (${segsBefore} → ${segsAfter})`);
  const next = syntheticCommandV2(g.id, [prev], 2400, Uint8Array.of(9));
  s.append(next, { frontier: frontierFor(next) });
  const before = snap(s);
  await s.close();
  const r = await open(dir, g.id, { byteBound: 100_000 });
  t.same(snap(r), before, 'reopened after prune: every field');
  // After a reopen the pruned ids are forgotten: one below the horizon has a parent that is gone.
  let refusal: unknown;
  try {
    r.append(cmds[5]!, { frontier: 0 });
  } catch (err) {
    refusal = err;
  }
  t.equal((refusal as { reason?: string } | undefined)?.reason, 'missing-parent', 'after a reopen, a pruned command below the horizon is refused by its parents');
  t.same(r.heads(), [1, 2400], 'the genesis (children pruned) is no head, the kept one is');
  t.equal(toHex(r.bytesOf(700)), toHex(cmds[700]!.bytes), 'a pinned membership command whose segment is gone is read from members.log');
  t.equal(r.openReport.deletedSegments, 0);
  await r.close();
  appendAll(mem, cmds);
  await mem.prune(planBelow(mem, 2000));
  t.equal(mem.base, 2000, 'the memory store prunes alike');
});

t.test('gap markers: before the next command, reopened, at most 24 records', async (t) => {
  const dir = tmp();
  const [g, a] = randomScopeDag(1, 1);
  const s = await open(dir, g!.id);
  appendAll(s, [g!]);
  const records = Array.from({ length: 30 }, (_, i) => ({ id: new Uint8Array(32).fill(i), depth: i + 1 }));
  s.appendGap(records);
  s.appendGap(records.slice(0, 1));
  appendAll(s, [a!]);
  t.equal(s.gapsBefore(1).length, 2);
  t.equal(s.gapsBefore(1)[0]!.length, 24, 'the first 24 records');
  t.same(s.gapsBefore(0), []);
  s.appendGap(records.slice(2, 3));
  t.equal(s.gapsBefore(2).length, 1, 'a trailing marker waits for the next command');
  const before = snap(s);
  await s.close();
  const r = await open(dir, g!.id);
  t.same(snap(r), before, 'reopened');
  t.equal(r.gapsBefore(2).length, 1, 'the trailing marker survives a reopen');
  await r.close();
});

t.test('adopt: entries persist, a command on an adopted parent gets its depth', async (t) => {
  const dir = tmp();
  const g = syntheticGenesis('test/adopt');
  const s = await open(dir, g.id);
  appendAll(s, [g]);
  const far: HorizonEntry = { id: new Uint8Array(32).fill(0xab), depth: 5000, frontier: [g.id] };
  await s.adopt([far, { id: g.id, depth: 1, frontier: [] }]);
  t.equal(s.horizon().length, 1, 'a retained id is not adopted');
  const c = syntheticCommandV2(g.id, [far.id], 1, Uint8Array.of(1));
  t.equal(s.append(c, { frontier: frontierFor(c) }), 1);
  t.equal(s.depthOf(1), 5001, 'depth from the horizon entry');
  t.same(s.parentsOf(1), []);
  const d = syntheticCommandV2(g.id, [g.id], 9, Uint8Array.of(9));
  t.equal(s.append(d, { frontier: frontierFor(d) }), 2);
  const before = snap(s);
  await s.close();
  const r = await open(dir, g.id);
  t.same(snap(r), before, 'reopened');
  t.equal(r.horizonEntry(far.id)?.depth, 5000);
  await r.close();
});

t.test('a damaged or truncated horizon.bin is a typed error', async (t) => {
  const dir = tmp();
  const cmds = randomScopeDag(40, 2, 1000);
  const s = await open(dir, cmds[0]!.id);
  appendAll(s, cmds);
  await s.prune(planBelow(s, 20));
  await s.close();
  const file = join(dir, HORIZON_FILE);
  const good = readFileSync(file);
  const flipped = Buffer.from(good);
  flipped[good.length - 3]! ^= 0x10;
  writeFileSync(file, flipped);
  await t.rejects(open(dir, cmds[0]!.id), { name: 'StoreError', scopeReason: 'bad-horizon', exitCode: 78, message: /CRC/ });
  writeFileSync(file, good.subarray(0, 10));
  await t.rejects(open(dir, cmds[0]!.id), { name: 'StoreError', scopeReason: 'bad-horizon' });
  writeFileSync(file, good);
  const r = await open(dir, cmds[0]!.id);
  t.equal(r.base, s.base, 'the intact file opens');
  await r.close();
});

t.test('torn tails are cut and reported; a membership command only in members.log is appended', async (t) => {
  const dir = tmp();
  const cmds = randomScopeDag(50, 5, 1000);
  const g = cmds[0]!;
  const m = syntheticCommandV2(g.id, [cmds[50]!.id], 51, Uint8Array.of(7), CommandKind.Membership);
  const s = await open(dir, g.id);
  appendAll(s, [...cmds, m]);
  await s.close();
  const seg = join(dir, 'seg-00000000000000000000.log');
  // The crash rule: members.log has m, the segment lost its record.
  truncateSync(seg, statSync(seg).size - (16 + m.bytes.length));
  const r = await open(dir, g.id);
  t.equal(r.openReport.recoveredMembers, 1, 'recovered from members.log');
  t.equal(r.indexOf(m.id), 51, 'with the handle it had');
  await r.close();
  const r2 = await open(dir, g.id);
  t.equal(r2.openReport.recoveredMembers, 0, 'written back to the segment');
  await r2.close();
  const body = new Uint8Array(300).fill(1);
  appendFileSync(seg, Buffer.concat([recordHeadV3(body, 1), body]).subarray(0, 100));
  appendFileSync(join(dir, MEMBERS_FILE), Buffer.concat([recordHeadV3(body, 1), body]).subarray(0, 20));
  const r3 = await open(dir, g.id);
  t.equal(r3.openReport.truncatedBytes, 120, 'both torn tails cut');
  t.equal(r3.size, 52);
  t.equal(toHex(r3.bytesOf(51)), toHex(m.bytes));
  await r3.close();
  // Damage followed by good records cannot be cut without renumbering handles.
  const bytes = readFileSync(seg);
  bytes[40]! ^= 0xff;
  writeFileSync(seg, bytes);
  await t.rejects(open(dir, g.id), { name: 'StoreError', scopeReason: 'bad-segment' });
});

t.test('property: reopened disk store = memory store = reference, through prunes', async (t) => {
  const pool = new FdPool(4);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 400 }), fc.integer(), fc.array(fc.integer({ min: 0, max: 450 }), { maxLength: 3 }), async (n, seed, cuts) => {
      const cmds = randomScopeDag(n, seed, 8);
      const dir = tmp();
      const disk = await open(dir, cmds[0]!.id, { pool, byteBound: 1 });
      const t0 = clock;
      const mem = new MemoryScopeStore(cmds[0]!.id, { nowS: () => t0 + 0 });
      appendAll(mem, cmds);
      appendAll(disk, cmds);
      const ref = reference(cmds);
      if (disk.heads().join() !== ref.heads.join() || mem.heads().join() !== ref.heads.join()) return false;
      for (const k of [...cuts].sort((a, b) => a - b)) {
        await disk.prune(planBelow(disk, k));
        await mem.prune(planBelow(mem, k));
      }
      await disk.close();
      const r = await open(dir, cmds[0]!.id, { pool, byteBound: 1 });
      let ok = r.size === mem.size && r.base === mem.base && r.heads().join() === mem.heads().join();
      for (let h = 0; ok && h < r.size; h++) {
        ok = r.isRetained(h) === mem.isRetained(h) && (!r.isRetained(h) || (toHex(r.bytesOf(h)) === toHex(cmds[h]!.bytes) && r.depthOf(h) === ref.depth[h] && r.parentsOf(h).join() === mem.parentsOf(h).join()));
      }
      await r.close();
      return ok;
    }),
    { numRuns: 40 },
  );
  t.ok(pool.openCount <= 4 + 1, 'the pool stays within its capacity');
});
