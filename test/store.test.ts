/**
 * The store contract (testkit/suites/store-contract.ts) run against every store: the memory
 * store, and the disk store under each durability mode. What only the disk store does is in
 * test/disk-store.test.ts.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskStore, parseDurability } from '../agent/store/disk-store.js';
import { MemoryStore } from '../testkit/memory-store.js';
import { runStoreContract } from '../testkit/suites/store-contract.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'syncwire-store-'));
  dirs.push(d);
  return d;
};
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

t.test('MemoryStore contract', async (t) => runStoreContract(async () => new MemoryStore(), t));
t.test('DiskStore contract', async (t) => {
  for (const durability of ['always', 'batch:5', 'none']) {
    t.test(durability, async (t) => runStoreContract(() => DiskStore.open(tmp(), { durability: parseDurability(durability) }), t));
  }
});
