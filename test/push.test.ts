/**
 * agent/sync/push.ts: push planning within exact budgets (fast-check over random DAGs, budgets,
 * frame limits and pass sizes): the frames never add up to more than the subscriber's remaining
 * bytes nor exceed the frame limit, carry a prefix of the pending list in causal order, say
 * `exhausted` when the next command cannot fit, and never state more remaining than is true; a
 * lone command goes bare when the subscriber takes that; `planPush` advances the known heads.
 */
import t from 'tap';
import fc from 'fast-check';
import { MIN_FRAME_BYTES } from '../protocol/constants.js';
import { decodeMessage } from '../protocol/envelope.js';
import { toHex } from '../protocol/keys.js';
import type { Push } from '../protocol/messages.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { missingFor } from '../agent/sync/graph-walk.js';
import { planPush, pushFrames } from '../agent/sync/push.js';
import { SubscriptionTable } from '../agent/sync/subscription-table.js';
import { randomDag, syntheticCommand } from '../testkit/synthetic-commands.js';

function setup(n: number, seed: number, budget: number): { store: MemoryStore; table: SubscriptionTable; slot: number } {
  const store = new MemoryStore();
  for (const c of randomDag(n, seed)) store.append(c);
  const table = new SubscriptionTable(4);
  return { store, table, slot: table.upsert('sub', Date.now() + 60_000, budget) };
}

const decodePush = (f: Uint8Array): Push => {
  const m = decodeMessage(f);
  if (m.type !== 'Push') throw new Error(`a ${m.type} among the push frames`);
  return m;
};

t.test('property: frames fit the budget and the frame limit and carry the pending list in order', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 120 }),
      fc.nat(),
      fc.integer({ min: 0, max: 40_000 }),
      fc.integer({ min: MIN_FRAME_BYTES, max: 8192 }),
      fc.boolean(),
      fc.option(fc.integer({ min: 1, max: 6000 }), { nil: undefined }),
      (n, seed, budget, frameLimit, bare, pass) => {
        const { store, table, slot } = setup(n, seed, budget);
        const todo = missingFor(store, []);
        const step = pushFrames(store, table, slot, frameLimit, bare, todo, 0, pass ?? Infinity);
        let left = budget;
        const sent: string[] = [];
        for (const [i, f] of step.frames.entries()) {
          if (f.length > frameLimit) return false;
          left -= f.length;
          const p = decodePush(f);
          if (p.remaining !== null && p.remaining > left) return false; // never more than the truth
          // A bare command (decoded as a Push with remaining null): only the last one, when allowed.
          if (p.remaining === null && (!bare || i !== step.frames.length - 1 || p.commands.length !== 1)) return false;
          sent.push(...p.commands.map(toHex));
        }
        const want = todo.slice(0, step.end).map((h) => toHex(store.bytesOf(h)));
        if (left < 0 || table.remainingOf(slot) !== left || step.commands !== step.end || JSON.stringify(sent) !== JSON.stringify(want)) return false;
        if (pass === undefined && step.exhausted !== step.end < todo.length) return false; // an unlimited pass stops only at the budget
        const last = step.frames.at(-1);
        if (last !== undefined && decodePush(last).exhausted && !step.exhausted) return false;
        return true;
      },
    ),
    { numRuns: 400 },
  );
  t.pass('400 random plans');
});

t.test('a lone command goes bare when the subscriber takes it, wrapped otherwise', async (t) => {
  const { store, table, slot } = setup(1, 5, 10_000);
  const bareStep = pushFrames(store, table, slot, 65536, true, [0], 0, Infinity);
  t.same(bareStep.frames.map(toHex), [toHex(store.bytesOf(0))], 'the command bytes themselves');
  t.equal(table.remainingOf(slot), 10_000 - store.lengthOf(0));
  const wrapped = pushFrames(store, table, slot, 65536, false, [0], 0, Infinity);
  t.equal(decodePush(wrapped.frames[0]!).commands.length, 1);
  t.ok(wrapped.frames[0]!.length > store.lengthOf(0), 'in a Push envelope');
});

t.test('no room for even the first command: no push at all, exhausted', async (t) => {
  const { store, table, slot } = setup(5, 2, 20);
  const step = pushFrames(store, table, slot, 65536, true, missingFor(store, []), 0, Infinity);
  t.same([step.frames.length, step.commands, step.exhausted, table.remainingOf(slot)], [0, 0, true, 20]);
});

t.test('a pass stops after passBytes (one frame at least) and the next pass continues', async (t) => {
  const { store, table, slot } = setup(200, 4, 1 << 22);
  const todo = missingFor(store, []);
  const frames: Uint8Array[] = [];
  let pos = 0;
  let passes = 0;
  while (pos < todo.length) {
    const step = pushFrames(store, table, slot, MIN_FRAME_BYTES, false, todo, pos, 1);
    t.equal(step.frames.length, 1, 'one frame per pass when passBytes is tiny');
    t.notOk(step.exhausted);
    frames.push(...step.frames);
    pos = step.end;
    passes++;
  }
  const sent = frames.flatMap((f) => decodePush(f).commands.map(toHex));
  t.same(sent, todo.map((h) => toHex(store.bytesOf(h))), `all ${todo.length} commands over ${passes} passes, in order`);
});

t.test('planPush: skipped commands are not sent but count as known; known heads advance unless exhausted', async (t) => {
  const { store, table, slot } = setup(80, 6, 1 << 20);
  const plan = planPush(store, table, slot, 65536, false, (h) => h % 3 === 0);
  const sent = plan.frames.flatMap((f) => decodePush(f).commands.map(toHex));
  t.same(sent, missingFor(store, []).filter((h) => h % 3 !== 0).map((h) => toHex(store.bytesOf(h))));
  t.notOk(plan.exhausted);
  t.same(missingFor(store, table.knownOf(slot), store.heads(), table.knownFloor(slot)), [], 'the subscriber now knows everything');
  t.same(planPush(store, table, slot, 65536, false, () => false).frames, [], 'nothing pending: nothing sent');
  const small = setup(80, 6, 3000);
  const cut = planPush(small.store, small.table, small.slot, 65536, false, () => false);
  t.ok(cut.exhausted, 'a small budget runs out');
  t.same(small.table.knownOf(small.slot), [], 'known heads unchanged when exhausted');
});

t.test('regression: more heads than MAX_KNOWN are not pushed twice (the known floor)', async (t) => {
  // 12 concurrent writers: 12 chains of two, so 12 heads — more than the 10 a slot can name.
  const store = new MemoryStore();
  const heads: Uint8Array[] = [];
  for (let w = 0; w < 12; w++) {
    const root = syntheticCommand([], 1, Uint8Array.of(w));
    const tip = syntheticCommand([root.id], 2, Uint8Array.of(w, 1));
    store.append(root);
    store.append(tip);
    heads.push(tip.id);
  }
  const table = new SubscriptionTable(4);
  const slot = table.upsert('sub', Date.now() + 60_000, 1 << 20);
  t.equal(planPush(store, table, slot, 65536, false, () => false).commands, 24, 'the first push carries everything');
  store.append(syntheticCommand([heads[0]!], 3, Uint8Array.of(99)));
  const next = planPush(store, table, slot, 65536, false, () => false);
  t.equal(next.commands, 1, 'the next push carries only the new command (was 5: two forgotten chains again)');
});
