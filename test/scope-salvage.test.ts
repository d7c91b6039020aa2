/**
 * `store salvage` of a scope directory in-process (agent/store/scope-salvage.ts): a damaged
 * record in a segment that is not the last is cut out, the later segment is renamed to its new
 * first handle so handles stay dense, and the scope opens again in an EngineV2 holding every
 * valid command in order; damage below pruned history and a damaged members.log are refused
 * without touching anything.
 */
import t from 'tap';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, toHex } from '../protocol/keys.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { HEADER_BYTES } from '../agent/store/log-format.js';
import { FORMAT_V3, headerV3 } from '../agent/store/log-format-v3.js';
import { scanRecords } from '../agent/store/log-scan.js';
import { encodeHorizonFile, EMPTY_HORIZON } from '../agent/store/horizon-file.js';
import { inspectScopeDir } from '../agent/store/scope-check.js';
import { salvageScopeDir } from '../agent/store/scope-salvage.js';
import { segmentName } from '../agent/store/segment-log.js';

const dirs: string[] = [];
t.teardown(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A data dir holding scope `local/s` (genesis + 20 data commands) split into two segments at handle 11. */
async function twoSegments(): Promise<{ dataDir: string; dir: string; id: string; ids: string[]; identity: ReturnType<typeof generateIdentity> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'swsalv-'));
  dirs.push(dataDir);
  const identity = generateIdentity();
  const e = await EngineV2.open({ identity, dataDir, durability: { mode: 'none' } });
  await e.createScope({ name: 'local/s', members: [{ publicKey: identity.publicKey, roles: 7 }] });
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push(toHex(await e.commit('local/s', new TextEncoder().encode(`cmd ${i} ${'x'.repeat(100)}`))));
  const id = e.scopes().find((s) => s.name === 'local/s')!.id;
  await e.close();
  const dir = join(dataDir, 'scopes', id);
  // Split seg-0 after its 11th record (handles 0..10) into seg-0 and seg-11: the layout a roll makes.
  const seg0 = join(dir, segmentName(0));
  const fd = openSync(seg0, 'r');
  const ends: number[] = [];
  scanRecords(fd, FORMAT_V3, HEADER_BYTES, fstatSync(fd).size, (body, _at, bodyOffset) => {
    ends.push(bodyOffset + body.length);
    return null;
  });
  closeSync(fd);
  const bytes = readFileSync(seg0);
  const cut = ends[10]!;
  writeFileSync(seg0, bytes.subarray(0, cut));
  writeFileSync(join(dir, segmentName(11)), Buffer.concat([headerV3(), bytes.subarray(cut)]));
  return { dataDir, dir, id, ids, identity };
}

/** The ids of the data commands the scope holds, in handle order, as an engine opens it. */
async function heldIds(dataDir: string, identity: ReturnType<typeof generateIdentity>): Promise<string[]> {
  const e = await EngineV2.open({ identity, dataDir });
  try {
    const h = e.scope('local/s')!;
    const out: string[] = [];
    for (let i = 1; i < h.store.size; i++) out.push(toHex(h.store.idOf(i)));
    return out;
  } finally {
    await e.close();
  }
}

t.test('a damaged record in the first of two segments: cut out, the second renumbered, the scope opens', async (t) => {
  const { dataDir, dir, id, ids, identity } = await twoSegments();
  t.same(await heldIds(dataDir, identity), ids, 'the split layout opens as it was');
  t.equal(inspectScopeDir(dir, id).verdict, 'intact');
  // Damage the 5th data command (handle 5) in seg-0.
  const seg0 = join(dir, segmentName(0));
  const b = readFileSync(seg0);
  const at = b.indexOf(Buffer.from('cmd 4 '));
  b[at] = b[at]! ^ 0xff;
  writeFileSync(seg0, b);
  const before = inspectScopeDir(dir, id);
  t.equal(before.verdict, 'damaged');
  t.equal(before.files[1]!.damaged.length, 1);
  await t.rejects(heldIds(dataDir, identity), { name: 'StoreError', scopeReason: 'bad-segment', exitCode: 78 }, 'the engine refuses the damaged segment');

  const r = salvageScopeDir(dir, id);
  t.ok(r.rebuilt);
  t.equal(r.segments.length, 1, 'one segment rebuilt');
  t.equal(r.segments[0]!.commands, 10, 'the genesis and 9 data commands kept in it');
  t.ok(r.segments[0]!.quarantine && r.segments[0]!.quarantine.bytes > 0, 'the damaged bytes quarantined');
  t.same(r.renamed.map((m) => m.to), [join(dir, segmentName(10))], 'seg-11 becomes seg-10');
  t.same(readdirSync(dir).filter((n) => /^seg-\d{20}\.log$/.test(n)).sort(), [segmentName(0), segmentName(10)]);
  t.equal(inspectScopeDir(dir, id).verdict, 'intact', 'intact after salvage');
  t.same(await heldIds(dataDir, identity), [...ids.slice(0, 4), ...ids.slice(5)], 'every valid command, in order, handles dense');
  t.same(salvageScopeDir(dir, id).rebuilt, false, 'a second salvage has nothing to do');
});

t.test('refused, nothing touched: damage below pruned history, a damaged members.log', async (t) => {
  const { dir, id } = await twoSegments();
  const seg0 = join(dir, segmentName(0));
  const b = readFileSync(seg0);
  const at = b.indexOf(Buffer.from('cmd 4 '));
  b[at] = b[at]! ^ 0xff;
  writeFileSync(seg0, b);
  // A horizon whose base lies past the damage: renumbering would make it name other commands.
  writeFileSync(join(dir, 'horizon.bin'), encodeHorizonFile({ ...EMPTY_HORIZON, base: 12 }));
  const files = readdirSync(dir).sort();
  t.throws(() => salvageScopeDir(dir, id), { name: 'StoreError', scopeReason: 'bad-segment' });
  t.same(readdirSync(dir).sort(), files, 'nothing written');
  rmSync(join(dir, 'horizon.bin'));
  const members = join(dir, 'members.log');
  const m = readFileSync(members);
  m[m.length - 3] = m[m.length - 3]! ^ 0xff;
  writeFileSync(members, m);
  t.throws(() => salvageScopeDir(dir, id), { scopeReason: 'bad-segment', message: /members\.log is damaged/ });
});
