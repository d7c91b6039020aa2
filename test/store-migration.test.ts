/**
 * The data directory of v2 (design §5.1, §5.5): a v1 `commands.log` (with its side files) moves
 * to `scopes/legacy-v1/` and opens there with the v1 store holding the same commands; the move is
 * idempotent and finishes after a crash between its renames; scope directories are created from
 * a genesis and listed by reading only their genesis.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../protocol/keys.js';
import { DiskStore, LOG_FILE } from '../agent/store/disk-store.js';
import { LEGACY_DIR, SCOPES_DIR, createScopeDir, legacyDirOf, legacyScopeId, listScopes, migrateV1, openLegacyV1, readGenesis, v1MigrationSteps } from '../agent/store/scope-dir.js';
import { checkStoreHolds } from '../testkit/suites/store-contract.js';
import { randomDag } from '../testkit/synthetic-commands.js';
import { syntheticGenesis } from '../testkit/synthetic-commands-v2.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'syncwire-migrate-'));
  dirs.push(d);
  return d;
};
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const cmds = randomDag(500, 11);

/** A v1 data directory: commands.log with `cmds`, a quarantine and its sidecar, and key.json. */
async function v1DataDir(): Promise<string> {
  const dir = tmp();
  const s = await DiskStore.open(dir, { durability: { mode: 'none' } });
  for (const c of cmds) s.append(c);
  await s.close();
  writeFileSync(join(dir, `${LOG_FILE}.quarantine-2026-01-01T00-00-00.000Z`), 'damaged bytes');
  writeFileSync(join(dir, `${LOG_FILE}.quarantine-2026-01-01T00-00-00.000Z.json`), '{}');
  writeFileSync(join(dir, 'key.json'), '{}');
  return dir;
}

t.test('a v1 data directory becomes scopes/legacy-v1 with the same commands', async (t) => {
  const dir = await v1DataDir();
  const lines: string[] = [];
  const logger = { debug: () => undefined, info: (_f: object, m?: string) => void lines.push(m ?? ''), warn: () => undefined, error: () => undefined };
  const r = migrateV1(dir, logger);
  t.equal(r.commands, 500);
  t.equal(r.moved.length, 3, 'the log and its two side files');
  t.same(lines, ['migrated the v1 store (500 commands) to the read-only scope legacy/v1']);
  t.notOk(existsSync(join(dir, LOG_FILE)), 'nothing left behind');
  t.ok(existsSync(join(dir, 'key.json')), 'other files stay');
  t.same(readdirSync(legacyDirOf(dir)).sort(), [LOG_FILE, `${LOG_FILE}.quarantine-2026-01-01T00-00-00.000Z`, `${LOG_FILE}.quarantine-2026-01-01T00-00-00.000Z.json`].sort());
  const legacy = await openLegacyV1(dir, { durability: { mode: 'none' } });
  t.ok(legacy !== null);
  checkStoreHolds(t, legacy!, cmds);
  t.equal(toHex(legacyScopeId(legacy!.idOf(0))).length, 64, 'its local id');
  await legacy!.close();
  t.same(migrateV1(dir), { moved: [] }, 'idempotent: a second run does nothing');
  t.same(listScopes(dir).scopes, [], 'legacy-v1 is not listed among the v2 scopes');
});

t.test('a crash between the renames: the next start finishes the move', async (t) => {
  for (const upTo of [0, 1, 2]) {
    const dir = await v1DataDir();
    mkdirSync(legacyDirOf(dir), { recursive: true });
    const steps = v1MigrationSteps(dir);
    t.equal(steps[steps.length - 1]!.from, join(dir, LOG_FILE), 'commands.log moves last');
    for (const s of steps.slice(0, upTo)) renameSync(s.from, s.to); // the crash came after `upTo` renames
    const r = migrateV1(dir);
    t.equal(r.moved.length, 3 - upTo, `after ${upTo} renames, the rest is done`);
    const legacy = await openLegacyV1(dir, { durability: { mode: 'none' } });
    checkStoreHolds(t, legacy!, cmds);
    await legacy!.close();
  }
  const none = tmp();
  t.same(migrateV1(none), { moved: [] }, 'a fresh data directory has nothing to migrate');
  t.equal(await openLegacyV1(none, { durability: { mode: 'none' } }), null);
});

t.test('two v1 logs are refused, not merged', async (t) => {
  const dir = await v1DataDir();
  migrateV1(dir);
  const s = await DiskStore.open(dir, { durability: { mode: 'none' } });
  await s.close();
  t.throws(() => migrateV1(dir), { name: 'StoreError', scopeReason: 'bad-segment', message: /both exist/ });
});

t.test('scope directories: created from a genesis, listed by their genesis', async (t) => {
  const dir = tmp();
  const a = syntheticGenesis('device/6a3803d5f059902a');
  const b = syntheticGenesis('fleet/acme', new Uint8Array(16).fill(1));
  for (const g of [a, b]) {
    const s = await createScopeDir(dir, g, { durability: { mode: 'always' } });
    t.equal(s.size, 1);
    await s.close();
  }
  const again = await createScopeDir(dir, a, { durability: { mode: 'none' } });
  t.equal(again.size, 1, 'creating an existing scope opens it');
  await again.close();
  mkdirSync(join(dir, SCOPES_DIR, LEGACY_DIR), { recursive: true });
  mkdirSync(join(dir, SCOPES_DIR, '00'.repeat(32)));
  const l = listScopes(dir);
  t.same(l.scopes.map((s) => [s.name, toHex(s.id)]).sort(), [['device/6a3803d5f059902a', toHex(a.id)], ['fleet/acme', toHex(b.id)]].sort());
  t.equal(l.unreadable.length, 1, 'a directory without a genesis is reported');
  t.equal(toHex(readGenesis(l.scopes[0]!.dir).id), toHex(l.scopes[0]!.id));
});
