/** The store's compact index: memory per command, many authors, and adds it refuses. */
import t from 'tap';
import { randomFillSync } from 'node:crypto';
import { CommandIndex } from '../agent/store/command-index.js';

t.test('CommandIndex: memory per command, many authors, bad input', async (t) => {
  const fill = (n: number, authors: number) => {
    const ix = new CommandIndex();
    const ids = randomFillSync(new Uint8Array(n * 32));
    const author = new Uint8Array(8);
    for (let i = 0; i < n; i++) {
      new DataView(author.buffer).setUint32(0, i % authors);
      ix.add(ids.subarray(i * 32, i * 32 + 32), i === 0 ? [] : [i - 1], 200, i * 208, author, i);
    }
    return ix;
  };
  // Memory, not time: a regression to per-command objects or careless growth shows here.
  for (const n of [100_000, 123_000, 200_000]) {
    const perCommand = fill(n, 16).byteSize() / n;
    t.ok(perCommand <= 100, `${perCommand.toFixed(1)} bytes/command at ${n}`);
  }
  const n = 70_000;
  const ix = fill(n, n);
  t.equal(new DataView(ix.authorOf(n - 1).author.buffer).getUint32(0), n - 1, '70k distinct authors round-trip');
  t.equal(ix.authorOf(65_537).seq, 65_537);
  t.equal(ix.depthOf(n - 1), n);
  t.same([ix.parentCount(0), ix.parentCount(5), ix.parentAt(5, 0)], [0, 1, 4], 'allocation-free parent walk');
  t.same(ix.heads(), [n - 1]);
  t.equal(ix.indexOf(ix.idOf(12345).slice()), 12345);
  t.throws(() => ix.add(new Uint8Array(32), [n + 5], 10, 0, new Uint8Array(8), 0), RangeError);
  t.throws(() => ix.add(new Uint8Array(32), [], 2000, 0, new Uint8Array(8), 0), RangeError);
  t.throws(() => ix.add(new Uint8Array(31), [], 20, 0, new Uint8Array(8), 0), RangeError);
  t.equal(ix.size, n, 'rejected adds change nothing');
  t.same(ix.heads(), [n - 1]);
});
