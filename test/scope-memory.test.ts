/**
 * The memory shape of an idle scope (design v2 §5.4, issue 16), asserted structurally (no
 * timings, no heap readings): an idle two-command scope's index is a CompactIndex owning one
 * ArrayBuffer of two 72-byte records, the hash table and merge pool appear only when needed, and
 * past COMPACT_MAX_COMMANDS the scope moves to a CommandSlotIndex with every field unchanged.
 * A fast-check property compares the two slot indexes over random DAGs.
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandV2 } from '../protocol/command-v2.js';
import { CommandKind, type CommandKindValue } from '../protocol/constants-v2.js';
import { CommandSlotIndex } from '../agent/store/command-slot-index.js';
import { COMPACT_MAX_COMMANDS, CompactIndex, LINEAR_MAX, RECORD_BYTES, type SlotIndex } from '../agent/store/compact-index.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { DiskScopeStore } from '../agent/store/scope-store.js';
import type { ScopeStore } from '../agent/store/scope-store-contract.js';
import { randomScopeDag, syntheticCommandV2, syntheticGenesis } from '../testkit/synthetic-commands-v2.js';
import { toHex } from '../protocol/keys.js';

const root = mkdtempSync(join(tmpdir(), 'syncwire-scope-memory-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

const idleScope = (): [CommandV2, CommandV2] => {
  const g = syntheticGenesis('test/idle');
  return [g, syntheticCommandV2(g.id, [g.id], 1, new Uint8Array(100))];
};

function appendAll(s: ScopeStore, cmds: readonly CommandV2[]): void {
  for (const [i, c] of cmds.entries()) s.append(c, { frontier: i % 3 });
}

/** Every field of every slot, as plain values. */
function slots(ix: SlotIndex): unknown[] {
  const out: unknown[] = [];
  for (let s = 0; s < ix.size; s++) {
    const a = ix.authorOf(s);
    out.push([toHex(ix.idOf(s)), ix.depthOf(s), ix.lengthOf(s), ix.offsetOf(s), toHex(a.author), a.seq, ix.parentsOf(s), ix.kindOf(s), ix.frontierOf(s), ix.timeOf(s), ix.indexOf(ix.idOf(s))]);
  }
  return [out, ix.heads()];
}

t.test('an idle memory scope: one compact buffer of two records', async (t) => {
  const [g, d] = idleScope();
  const s = new MemoryScopeStore(g.id, { nowS: () => 1 });
  appendAll(s, [g, d]);
  const ix = s.state.ix;
  t.ok(ix instanceof CompactIndex, 'a compact index');
  t.equal((ix as CompactIndex).buffers, 1, 'one ArrayBuffer: no hash table, no merge pool');
  t.equal(ix.byteSize(), 2 * RECORD_BYTES, 'exactly two records');
  t.same(s.heads(), [1]);
  t.equal(s.indexOf(d.id), 1);
  t.same(s.bytesOf(1), d.bytes);
  await s.close();
});

t.test('an idle disk scope: the same after reopening', async (t) => {
  const [g, d] = idleScope();
  const dir = join(root, 'idle');
  const w = await DiskScopeStore.open(dir, { scopeId: g.id, durability: { mode: 'none' } });
  appendAll(w, [g, d]);
  await w.close();
  const s = await DiskScopeStore.open(dir, { scopeId: g.id, durability: { mode: 'none' } });
  const ix = s.state.ix;
  t.ok(ix instanceof CompactIndex, 'a compact index');
  t.equal((ix as CompactIndex).buffers, 1, 'one ArrayBuffer');
  t.ok(ix.byteSize() <= 2 * RECORD_BYTES, `at most ${2 * RECORD_BYTES} bytes (got ${ix.byteSize()})`);
  t.ok(ix.offsetOf(0) < 0, 'the genesis is read from members.log (a negative offset survives)');
  t.same(s.bytesOf(0), g.bytes);
  t.same(s.bytesOf(1), d.bytes);
  t.same(s.state.members, [0]);
  await s.close();
});

t.test('the hash table appears past LINEAR_MAX commands, the pool at the first merge', async (t) => {
  const ix = new CompactIndex();
  const id = (i: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, j) => (i * 31 + j * 7) & 0xff);
  const author = new Uint8Array(8).fill(3);
  for (let i = 0; i < LINEAR_MAX; i++) ix.add(id(i), i === 0 ? [] : [i - 1], 100, i * 1000, author, i, 0, CommandKind.Data, 0, 0);
  t.equal(ix.buffers, 1, `${LINEAR_MAX} commands in a chain: one buffer`);
  ix.add(id(LINEAR_MAX), [LINEAR_MAX - 1], 100, 2 ** 40 + 5, author, 0, 0, CommandKind.Data, 0, 0);
  t.equal(ix.buffers, 2, 'then a hash table');
  ix.add(id(LINEAR_MAX + 1), [0, LINEAR_MAX], 100, -7, author, 0, 0, CommandKind.Data, 0, 0);
  t.equal(ix.buffers, 3, 'and a pool at the first merge');
  for (let i = 0; i < LINEAR_MAX + 2; i++) t.equal(ix.indexOf(id(i)), i);
  t.equal(ix.indexOf(id(999)), -1);
  t.equal(ix.offsetOf(LINEAR_MAX), 2 ** 40 + 5, 'offsets above 2^32 kept');
  t.equal(ix.offsetOf(LINEAR_MAX + 1), -7, 'negative offsets kept');
  t.same(ix.parentsOf(LINEAR_MAX + 1), [0, LINEAR_MAX]);
  t.same(ix.heads(), [LINEAR_MAX + 1]);
  t.equal(ix.depthOf(LINEAR_MAX + 1), LINEAR_MAX + 2);
  t.throws(() => ix.depthOf(LINEAR_MAX + 2), RangeError);
  t.throws(() => ix.add(id(500), [LINEAR_MAX + 5], 100, 0, author, 0, 0, CommandKind.Data, 0, 0), RangeError, 'an unknown parent is refused');
  t.equal(ix.size, LINEAR_MAX + 2, 'and nothing was added');
});

t.test(`past ${COMPACT_MAX_COMMANDS} commands the scope moves to a CommandSlotIndex, fields unchanged`, async (t) => {
  const cmds = randomScopeDag(COMPACT_MAX_COMMANDS + 40, 11, 10);
  const s = new MemoryScopeStore(cmds[0]!.id, { nowS: () => 7 });
  appendAll(s, cmds.slice(0, COMPACT_MAX_COMMANDS));
  t.ok(s.state.ix instanceof CompactIndex);
  const before = slots(s.state.ix);
  appendAll(s, cmds.slice(COMPACT_MAX_COMMANDS));
  t.ok(s.state.ix instanceof CommandSlotIndex, 'switched');
  const after = slots(s.state.ix) as [unknown[], number[]];
  t.same(after[0].slice(0, COMPACT_MAX_COMMANDS), (before as [unknown[]])[0], 'the first slots read the same');
  for (const [h, c] of cmds.entries()) t.equal(s.indexOf(c.id), h);
  await s.close();
});

t.test('property: CompactIndex and CommandSlotIndex answer alike', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 3 }), (n, seed, floor) => {
      const cmds = randomScopeDag(n, seed, 4);
      const a = new CompactIndex();
      const b = new CommandSlotIndex(8);
      for (const [i, c] of cmds.entries()) {
        const ps = c.parents.map((p) => a.indexOf(p));
        const args = [c.id, ps, c.bytes.length, i * 300 - 600, c.author, c.seq, i % 2 === 0 ? floor : 0, c.kind as CommandKindValue, i % 5, 1_700_000_000 + i] as const;
        a.add(...args);
        b.add(...args);
      }
      return JSON.stringify(slots(a)) === JSON.stringify(slots(b)) && a.indexOf(new Uint8Array(32)) === -1 && b.indexOf(new Uint8Array(32)) === -1;
    }),
    { numRuns: 60 },
  );
  t.pass('60 random DAGs');
  t.end();
});
