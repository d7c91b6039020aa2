/**
 * agent/sync/orphans.ts: the bounded orphan buffer. Orphans are released when a missing parent
 * arrives (and leave every other waiting list), duplicates are ignored, and the bounds hold
 * whatever the sequence: checked against a model with fast-check.
 */
import t from 'tap';
import fc from 'fast-check';
import type { Command } from '../protocol/command.js';
import { toHex } from '../protocol/keys.js';
import { OrphanBuffer } from '../agent/sync/orphans.js';
import { syntheticCommand } from '../testkit/synthetic-commands.js';

/** A distinct command of about `size` payload bytes. */
const cmd = (seq: number, size = 10): Command => syntheticCommand([], seq, new Uint8Array(size));
const hex = (c: Command): string => toHex(c.id);

t.test('held until a missing parent arrives; released with its origin; gone from other waiting lists', async (t) => {
  const b = new OrphanBuffer();
  const [x, y, z] = [cmd(1), cmd(2), cmd(3)];
  b.add(x, 'peer-a', ['p1', 'p2']);
  b.add(y, 'peer-b', ['p2']);
  b.add(x, 'peer-c', ['p3']); // a duplicate changes nothing
  t.equal(b.size, 2);
  t.ok(b.has(hex(x)) && b.has(hex(y)));
  t.same(b.release('p3'), [], 'the duplicate registered no wait');
  t.same(b.release('nobody'), []);
  const r = b.release('p1');
  t.same(r.map((o) => [hex(o.cmd), o.from, o.missing]), [[hex(x), 'peer-a', ['p1', 'p2']]], 'x released with what it waited for');
  t.notOk(b.has(hex(x)));
  t.same(b.release('p2').map((o) => hex(o.cmd)), [hex(y)], 'x is no longer waiting on p2');
  t.equal(b.size, 0);
  b.add(z, 'peer-a', []);
  t.ok(b.has(hex(z)), 'an orphan waiting on nothing is held (the caller decides)');
});

t.test('full by count: the oldest orphan is dropped', async (t) => {
  const b = new OrphanBuffer(3, 1 << 20);
  const cs = [1, 2, 3, 4, 5].map((i) => cmd(i));
  cs.forEach((c, i) => b.add(c, 'p', [`m${i}`]));
  t.equal(b.size, 3);
  t.same(cs.map((c) => b.has(hex(c))), [false, false, true, true, true]);
  t.same(b.release('m0'), [], 'a dropped orphan is not released later');
});

t.test('full by bytes: oldest dropped until the new one fits', async (t) => {
  const one = cmd(0, 100).bytes.length;
  const b = new OrphanBuffer(100, 3 * one);
  const cs = [1, 2, 3].map((i) => cmd(i, 100));
  cs.forEach((c) => b.add(c, 'p', ['m']));
  t.equal(b.size, 3);
  b.add(cmd(9, 100), 'p', ['m']);
  t.same(cs.map((c) => b.has(hex(c))), [false, true, true]);
  t.equal(b.size, 3);
});

t.test('model: any sequence of adds and releases keeps the bounds and releases exactly the waiters', async (t) => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('add' as const), seq: fc.integer({ min: 0, max: 30 }), size: fc.integer({ min: 0, max: 300 }), missing: fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('release' as const), parent: fc.integer({ min: 0, max: 6 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 400, max: 2000 }), fc.array(op, { maxLength: 80 }), (maxCount, maxBytes, ops) => {
      const b = new OrphanBuffer(maxCount, maxBytes);
      // Model: insertion-ordered map id → {bytes, missing}.
      const model = new Map<string, { bytes: number; missing: string[] }>();
      const cmds = new Map<number, Command>();
      for (const o of ops) {
        if (o.kind === 'add') {
          const c = cmds.get(o.seq) ?? cmd(o.seq, o.size);
          cmds.set(o.seq, c);
          const id = hex(c);
          const missing = o.missing.map((m) => `p${m}`);
          b.add(c, 'x', missing);
          if (!model.has(id)) {
            const total = (): number => [...model.values()].reduce((n, v) => n + v.bytes, 0);
            while (model.size > 0 && (model.size >= maxCount || total() + c.bytes.length > maxBytes)) model.delete(model.keys().next().value as string);
            model.set(id, { bytes: c.bytes.length, missing });
          }
        } else {
          const p = `p${o.parent}`;
          const got = b.release(p).map((x) => hex(x.cmd)).sort();
          const want = [...model].filter(([, v]) => v.missing.includes(p)).map(([id]) => id).sort();
          for (const id of want) model.delete(id);
          if (JSON.stringify(got) !== JSON.stringify(want)) return false;
        }
        if (b.size !== model.size || b.size > maxCount) return false;
        if ([...model.keys()].some((id) => !b.has(id))) return false;
        if ([...model.values()].reduce((n, v) => n + v.bytes, 0) > maxBytes) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('300 random sequences');
});
