/**
 * The store contract suite: what every {@link CommandStore} must do — an empty store, heads
 * through forks and merges, depths, parents, duplicates and refused orphans (a failed append
 * changes nothing), copies handed out by `bytesOf`, close twice and append after close, and 10k
 * commands of a random DAG checked field by field against an independent reference.
 *
 * Usage: `runStoreContract(() => DiskStore.open(dir), t)` once per store kind or configuration.
 */
import tap, { type Test } from 'tap';
import type { Command } from '../../protocol/command.js';
import { toHex } from '../../protocol/keys.js';
import type { CommandStore } from '../../agent/store/command-store.js';
import { randomDag, syntheticCommand } from '../synthetic-commands.js';

const payload = (s: string): Uint8Array => new TextEncoder().encode(s);
const hexes = (s: CommandStore, hs: number[]): string[] => hs.map((h) => toHex(s.idOf(h))).sort();

/** Independent reference: depth and heads computed from the commands alone. */
function reference(cmds: Command[]): { depth: Map<string, number>; heads: string[] } {
  const depth = new Map<string, number>();
  const heads = new Set<string>();
  for (const c of cmds) {
    const ps = c.parents.map(toHex);
    depth.set(toHex(c.id), 1 + Math.max(0, ...ps.map((p) => depth.get(p) ?? Number.NaN)));
    for (const p of ps) heads.delete(p);
    heads.add(toHex(c.id));
  }
  return { depth, heads: [...heads].sort() };
}

/**
 * Assert that `s` holds exactly `cmds`, appended in this order: every field of every command
 * (handle, id, depth, parents, length, author, seq, bytes), the size and the heads (ascending).
 */
export function checkStoreHolds(t: Test, s: CommandStore, cmds: Command[]): void {
  const ref = reference(cmds);
  let bad = 0;
  cmds.forEach((c, i) => {
    const ok =
      s.indexOf(c.id) === i &&
      toHex(s.idOf(i)) === toHex(c.id) &&
      s.depthOf(i) === ref.depth.get(toHex(c.id)) &&
      hexes(s, s.parentsOf(i)).join() === c.parents.map(toHex).sort().join() &&
      s.lengthOf(i) === c.bytes.length &&
      toHex(s.authorOf(i).author) === toHex(c.author) &&
      s.authorOf(i).seq === c.seq &&
      toHex(s.bytesOf(i)) === toHex(c.bytes);
    if (!ok && bad++ < 3) t.fail(`command ${i} differs`);
  });
  t.equal(bad, 0, `all ${cmds.length} commands match`);
  t.equal(s.size, cmds.length);
  t.same(hexes(s, s.heads()), ref.heads, 'heads match the reference');
  t.same(s.heads(), [...s.heads()].sort((a, b) => a - b), 'heads ascending');
}

/** Run the contract as subtests of `parent` (default: the file's root test); `make` gives a fresh empty store per case. */
export function runStoreContract(make: () => Promise<CommandStore>, parent: Test = tap): void {
  parent.test('empty store', async (t) => {
    const s = await make();
    t.equal(s.size, 0);
    t.same(s.heads(), []);
    t.match(s.openReport, { commands: 0, truncatedBytes: 0 });
    t.equal(s.indexOf(new Uint8Array(32)), -1);
    t.equal(s.indexOf(new Uint8Array(5)), -1);
    t.throws(() => s.depthOf(0), RangeError);
    await s.close();
  });

  parent.test('heads after appends and merges; depth; parents; duplicates', async (t) => {
    const s = await make();
    const a = syntheticCommand([], 0, payload('a'));
    const b = syntheticCommand([a.id], 1, payload('b'));
    const c = syntheticCommand([a.id], 2, payload('c'));
    const m = syntheticCommand([c.id, b.id], 3, new Uint8Array(0));
    t.equal(s.append(a), 0);
    t.same(s.heads(), [0]);
    t.equal(s.append(b), 1);
    t.same(s.heads(), [1]);
    t.equal(s.append(c), 2);
    t.same(s.heads(), [1, 2], 'fork gives two heads');
    t.equal(s.append(m), 3);
    t.same(s.heads(), [3], 'merge joins them');
    t.same([s.depthOf(0), s.depthOf(1), s.depthOf(2), s.depthOf(3)], [1, 2, 2, 3]);
    t.same(s.parentsOf(3).sort(), [1, 2]);
    t.same(s.parentsOf(0), []);
    t.equal(s.append(b), 1, 'duplicate returns the existing handle');
    t.equal(s.size, 4, 'and adds nothing');
    const orphan = syntheticCommand([syntheticCommand([], 9, payload('x')).id], 10, payload('o'));
    t.throws(() => s.append(orphan), /parent/);
    t.equal(s.size, 4, 'failed append changes nothing');
    t.same(s.heads(), [3]);
    await s.sync();
    checkStoreHolds(t, s, [a, b, c, m]);
    const copy = s.bytesOf(3);
    copy.fill(0);
    t.equal(toHex(s.bytesOf(3)), toHex(m.bytes), 'bytesOf hands out a copy');
    await s.close();
    await s.close();
    t.throws(() => s.append(syntheticCommand([], 5, payload('late'))), /closed/);
  });

  parent.test('10k random DAG commands', async (t) => {
    const s = await make();
    const cmds = randomDag(10_000, 42);
    for (const c of cmds) s.append(c);
    await s.sync();
    checkStoreHolds(t, s, cmds);
    await s.close();
  });
}
