/** The prune planner (§4.2), the horizon (§4.3) and the running totals, over a model store. */
import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import { CommandKind, type CommandKindValue } from '../protocol/constants-v2.js';
import { toHex } from '../protocol/keys.js';
import { HorizonSet } from '../agent/store/horizon.js';
import { planRetention, RetentionTotals, type RetentionPlan, type RetentionView } from '../agent/store/retention.js';
import { FOREVER, type RetentionLimits } from '../agent/store/retention-policy.js';
import type { PrunePlan } from '../agent/store/scope-store-contract.js';

const { Data, Genesis, Membership } = CommandKind;
const idOf = (h: number): Uint8Array => {
  const id = new Uint8Array(32).fill(0xab);
  new DataView(id.buffer).setUint32(0, h);
  return id;
};
const handleOfId = (id: Uint8Array): number => new DataView(id.buffer, id.byteOffset).getUint32(0);

/** A scope store in memory as the planner sees it; applies plans as a store would. */
class Model implements RetentionView {
  kinds: CommandKindValue[] = [Genesis];
  parents: number[][] = [[]];
  lengths = [300];
  times = [0];
  own = [false];
  retained = [true];
  children = [0];
  depths = [0];
  frontiers = [0];
  base = 0;
  pinned: number[] = [];
  horizon = new HorizonSet();
  totals = new RetentionTotals();
  nowS = 0;
  heldFloor = 0;
  get size(): number {
    return this.kinds.length;
  }
  pinnedHeads = (): readonly number[] => this.pinned;
  isRetained = (h: number): boolean => this.retained[h]!;
  kind = (h: number): CommandKindValue => this.kinds[h]!;
  parentIdsOf = (h: number): readonly Uint8Array[] => this.parents[h]!.map(idOf);
  childCountOf = (h: number): number => this.children[h]!;
  lengthOf = (h: number): number => this.lengths[h]!;
  appendedAtS = (h: number): number => this.times[h]!;
  isHead = (h: number): boolean => this.children[h] === 0;
  isOwn = (h: number): boolean => this.own[h]!;
  depthOf = (h: number): number => this.depths[h]!;
  frontierOf = (h: number): number => this.frontiers[h]!;
  idOf = (h: number): Uint8Array => idOf(h);

  /** Append a command whose parents are retained or horizon entries; returns its handle. */
  add(parents: number[], o: { kind?: CommandKindValue; len?: number; own?: boolean; dt?: number } = {}): number {
    const h = this.size;
    this.nowS += o.dt ?? 0;
    for (const p of parents) if (!this.retained[p] && !this.horizon.has(idOf(p))) throw new Error(`parent ${p} not placeable`);
    this.kinds.push(o.kind ?? Data);
    this.parents.push([...parents]);
    this.lengths.push(o.len ?? 100);
    this.times.push(this.nowS);
    this.own.push(o.own ?? false);
    this.retained.push(true);
    this.children.push(0);
    this.depths.push(1 + Math.max(...parents.map((p) => this.depths[p]!)));
    this.frontiers.push(Math.max(...parents.map((p) => (this.kinds[p] === Data ? this.frontiers[p]! : p))));
    for (const p of parents) {
      const was = this.children[p]!;
      this.children[p] = was + 1;
      if (!this.retained[p]) this.horizon.addRef(idOf(p));
      else if (was === 0) this.totals.retire(this, p);
    }
    return h;
  }
  chain(from: number, n: number, o: Parameters<Model['add']>[1] = {}): number[] {
    const out: number[] = [];
    for (let i = 0, p = from; i < n; i++) out.push((p = this.add([p], o)));
    return out;
  }
  plan(limits: RetentionLimits, horizonTarget?: number): RetentionPlan {
    return planRetention({ view: this, limits, nowS: this.nowS, heldFloor: this.heldFloor, horizon: this.horizon, totals: this.totals, horizonTarget });
  }
  apply(plan: RetentionPlan): void {
    for (const h of plan.prune) this.retained[h] = false;
    this.base = plan.base;
    this.pinned = [...plan.pinnedHeads];
    this.horizon = plan.horizonSet;
    this.totals.apply(plan);
  }
  run(limits: RetentionLimits, horizonTarget?: number): RetentionPlan {
    const plan = this.plan(limits, horizonTarget);
    this.apply(plan);
    return plan;
  }
  /** The counted commands (retained data, not heads), by brute force. */
  counted(): number[] {
    return this.kinds.flatMap((k, h) => (k === Data && this.retained[h] && this.children[h] !== 0 ? [h] : []));
  }
  exceeded(l: RetentionLimits): boolean {
    const c = this.counted();
    const bytes = c.reduce((s, h) => s + this.lengths[h]!, 0);
    return c.length > l.commands || bytes > l.bytes || c.some((h) => this.nowS - this.times[h]! > l.ageS);
  }
  /** §4.3 by definition: parents of retained commands that are not retained. */
  horizonByDefinition(): number[] {
    const out = new Set<number>();
    this.parents.forEach((ps, h) => this.retained[h] && ps.forEach((p) => !this.retained[p] && out.add(p)));
    return [...out].sort((a, b) => a - b);
  }
}

const limits = (l: Partial<RetentionLimits>): RetentionLimits => ({ ...FOREVER, ...l });
const horizonHandles = (m: Model): number[] => m.horizon.entries().map((e) => handleOfId(e.id)).sort((a, b) => a - b);

t.test('commands bound alone: oldest first, the head does not count, horizon = the last pruned', async (t) => {
  const m = new Model();
  m.chain(0, 10);
  const plan = m.run(limits({ commands: 3 }));
  t.same(plan.prune, [1, 2, 3, 4, 5, 6]);
  t.equal(plan.stop, 'within');
  t.same([plan.base, plan.pinnedHeads, horizonHandles(m)], [7, [], [6]]);
  t.same(m.horizon.get(idOf(6)), { id: idOf(6), depth: 6, frontier: 0 });
  t.same([m.totals.commands, m.totals.bytes, m.totals.oldestS], [3, 300, 0]);
  t.same(m.plan(limits({ commands: 3 })).prune, [], 'a second run prunes nothing');
});

t.test('bytes bound alone, days bound alone, and both with the commands bound', async (t) => {
  const a = new Model();
  a.chain(0, 10, { len: 100 });
  t.same(a.run(limits({ bytes: 250 })).prune, [1, 2, 3, 4, 5, 6, 7], 'at most 2 × 100 bytes counted');
  const b = new Model();
  b.chain(0, 10, { dt: 86_400 });
  t.same(b.run(limits({ ageS: 3 * 86_400 })).prune, [1, 2, 3, 4, 5, 6], 'appended more than 3 days ago');
  t.equal(b.totals.oldestS, 7 * 86_400);
  const c = new Model();
  c.chain(0, 10, { len: 100, dt: 86_400 });
  t.same(c.run(limits({ commands: 5, bytes: 250 })).prune.length, 7, 'the tighter bound wins');
  const d = new Model();
  d.chain(0, 10, { len: 100, dt: 86_400 });
  t.same(d.run(limits({ commands: 5, bytes: 2000, ageS: 2 * 86_400 })).prune, [1, 2, 3, 4, 5, 6, 7], 'age binds here');
});

t.test('heads are kept (pinned below base) and pruned first once they are no longer heads', async (t) => {
  const m = new Model();
  const early = m.add([0]);
  const tail = m.chain(0, 6).at(-1)!;
  const plan = m.run(limits({ commands: 1 }));
  t.same([plan.keptHeads, plan.prune, plan.base, plan.pinnedHeads], [[early], [2, 3, 4, 5], 6, [early]]);
  t.same(m.plan(limits({ commands: 1 })).prune, [], 'stable');
  m.add([early, tail]);
  const next = m.run(limits({ commands: 1 }));
  t.same([next.prune, next.keptHeads, next.pinnedHeads], [[early, 6], [], []], 'the former head goes first');
  t.same(horizonHandles(m), [early, 6]);
});

t.test('genesis and membership commands are never pruned and never counted', async (t) => {
  const m = new Model();
  const [a, b] = m.chain(0, 2);
  const mem = m.add([b!], { kind: Membership });
  const after = m.chain(mem, 4);
  const plan = m.run(limits({ commands: 0 }));
  t.same(plan.prune, [a, b, ...after.slice(0, 3)]);
  t.ok(m.retained[0] && m.retained[mem], 'genesis and membership retained');
  t.same(horizonHandles(m), [b, after[2]], 'the membership command still names its pruned parent');
  t.equal(plan.base, after[3], 'base passes the pinned membership command');
});

t.test('protected own commands stop pruning with overBy; heldFloor unprotects; Q-3', async (t) => {
  const m = new Model();
  m.chain(0, 3, { dt: 10 });
  const own = m.chain(3, 6, { own: true, len: 200, dt: 10 });
  const l = limits({ commands: 2, bytes: 10_000, ageS: 25 });
  const plan = m.run(l);
  t.same([plan.prune, plan.stop], [[1, 2, 3], 'protected']);
  t.same(plan.overBy, { commands: 3, bytes: 0, ageS: 25 }, '5 counted own commands, the oldest 50 s old');
  t.equal(plan.ownAloneExceed, true, 'own unacknowledged commands alone exceed the bound');
  m.heldFloor = own[2]!;
  const later = m.run(l);
  t.same([later.prune, later.stop, later.ownAloneExceed], [[own[0], own[1]], 'protected', true]);
  m.heldFloor = m.size;
  const done = m.run(l);
  t.same([done.prune.length, done.stop, done.overBy, done.ownAloneExceed], [1, 'within', { commands: 0, bytes: 0, ageS: 0 }, false]);
  const few = new Model();
  few.chain(few.chain(few.chain(0, 3).at(-1)!, 2, { own: true }).at(-1)!, 2);
  const p = few.run(limits({ commands: 2 }));
  t.same([p.prune, p.stop, p.ownAloneExceed], [[1, 2, 3], 'protected', false], 'stopped above the bound, but not by own commands alone');
});

t.test('the horizon target stops pruning; a larger starting horizon is the cap', async (t) => {
  const m = new Model();
  const roots = Array.from({ length: 5 }, () => m.add([0]));
  for (const r of roots) m.add([r]);
  const plan = m.run(limits({ commands: 0 }), 2);
  t.same([plan.prune, plan.stop, m.horizon.size], [[roots[0], roots[1]], 'horizon', 2]);
  t.same(plan.overBy.commands, 3);
  t.same(m.plan(limits({ commands: 0 }), 2).prune, [], 'converged');
  t.same(m.run(limits({ commands: 0 }), 1).prune, [], 'h0 = 2 > target 1: still capped at 2');
  t.same(m.run(limits({ commands: 0 }), 32).prune, roots.slice(2));
});

t.test('nothing to prune: the same horizon object, the pinned heads as they were', async (t) => {
  const m = new Model();
  m.chain(0, 5);
  const before = m.horizon;
  const plan = m.run(limits({ commands: 10 }));
  t.same([plan.prune, plan.keptHeads, plan.stop, plan.base], [[], [], 'within', 0]);
  t.equal(plan.horizonSet, before);
  t.same(plan.horizon, []);
});

t.test("with frontiers as ids the plan is the scope store's PrunePlan; the entries are listed lazily", async (t) => {
  const m = new Model();
  m.chain(0, 4);
  const frontierIds = (h: number): Uint8Array[] => [idOf(m.frontiers[h]!)];
  const view: RetentionView<Uint8Array[]> = Object.assign(Object.create(m) as Model, { frontierOf: frontierIds });
  const plan = planRetention({ view, limits: limits({ commands: 1 }), nowS: 0, heldFloor: 0, horizon: new HorizonSet<Uint8Array[]>(), totals: m.totals });
  const asStorePlan: PrunePlan = plan;
  t.same(asStorePlan.prune, [1, 2]);
  t.same(asStorePlan.horizon, [{ id: idOf(2), depth: 2, frontier: [idOf(0)] }]);
  t.equal(plan.horizon, plan.horizon, 'listed once');
});

t.test('RetentionTotals: fromView equals the running totals; exceeded is per axis', async (t) => {
  const m = new Model();
  m.chain(0, 8, { len: 50, dt: 100, own: true });
  m.heldFloor = m.size;
  m.run(limits({ commands: 4 }));
  const fresh = RetentionTotals.fromView(m);
  t.same([fresh.commands, fresh.bytes, fresh.own, fresh.oldestS], [m.totals.commands, m.totals.bytes, m.totals.own, m.totals.oldestS]);
  t.same([fresh.commands, fresh.bytes, fresh.own, fresh.oldestS], [4, 200, 4, 400]);
  t.notOk(fresh.exceeded(limits({ commands: 4, bytes: 200, ageS: 400 }), 800));
  t.ok(fresh.exceeded(limits({ commands: 3 }), 800));
  t.ok(fresh.exceeded(limits({ bytes: 199 }), 800));
  t.ok(fresh.exceeded(limits({ ageS: 399 }), 800));
  t.notOk(new RetentionTotals().exceeded(limits({ commands: 0, bytes: 0, ageS: 0 }), 1e9), 'nothing counted');
});

t.test('HorizonSet: referrers, adoption, deepestFirst', async (t) => {
  const h = new HorizonSet();
  h.add({ id: idOf(1), depth: 5, frontier: 0 }, 2);
  h.add({ id: idOf(2), depth: 9, frontier: 1 });
  h.add({ id: idOf(3), depth: 9, frontier: 1 });
  h.add({ id: idOf(2), depth: 9, frontier: 1 });
  t.same([h.size, h.refsOf(idOf(2)), h.refsOf(toHex(idOf(1)))], [3, 2, 2], 'adopting an entry again adds a referrer');
  t.same(h.deepestFirst(2).map((e) => handleOfId(e.id)), [2, 3]);
  t.same(h.deepestFirst(0), []);
  t.notOk(h.dropRef(idOf(1)));
  t.ok(h.dropRef(idOf(1)), 'leaves with its last referrer');
  t.notOk(h.has(idOf(1)));
  t.notOk(h.addRef(idOf(1)), 'not an entry');
  const copy = h.clone();
  copy.dropRef(idOf(3));
  t.ok(h.has(idOf(3)) && !copy.has(idOf(3)), 'clones are independent');
  t.ok(h.remove(idOf(3)));
  t.throws(() => h.add({ id: idOf(4), depth: 1, frontier: 0 }, 0), RangeError);
  t.throws(() => h.add({ id: new Uint8Array(31), depth: 1, frontier: 0 }), RangeError);
});

/** §4.2 read literally, by brute force over the model (a copy of its retained flags). */
function reference(m: Model, l: RetentionLimits, target: number): { prune: number[]; kept: number[] } {
  const retained = [...m.retained];
  const counted = (): number[] => m.kinds.flatMap((k, h) => (k === Data && retained[h] && m.children[h] !== 0 ? [h] : []));
  const exceeded = (): boolean => {
    const c = counted();
    return c.length > l.commands || c.reduce((s, h) => s + m.lengths[h]!, 0) > l.bytes || c.some((h) => m.nowS - m.times[h]! > l.ageS);
  };
  const horizonSize = (): number => new Set(m.parents.flatMap((ps, h) => (retained[h] ? ps.filter((p) => !retained[p]) : []))).size;
  const cap = Math.max(target, horizonSize());
  const kept = new Set<number>();
  const prune: number[] = [];
  while (exceeded()) {
    const c = m.kinds.findIndex((k, h) => k === Data && retained[h] && !kept.has(h));
    if (c < 0) break;
    if (m.children[c] === 0) {
      kept.add(c);
      continue;
    }
    if (m.own[c] && c >= m.heldFloor) break;
    retained[c] = false;
    if (horizonSize() > cap) break;
    prune.push(c);
  }
  return { prune, kept: [...kept] };
}

type Op =
  | { op: 'add'; membership: boolean; picks: number[]; len: number; own: boolean; dt: number }
  | { op: 'plan'; floor: number; dt: number };
const addOp = fc.record({
  op: fc.constant('add' as const),
  membership: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
  picks: fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 4 }),
  len: fc.integer({ min: 150, max: 1024 }),
  own: fc.boolean(),
  dt: fc.integer({ min: 0, max: 600 }),
});
const planOp = fc.record({ op: fc.constant('plan' as const), floor: fc.double({ min: 0, max: 1, noNaN: true }), dt: fc.integer({ min: 0, max: 3000 }) });
const axis = (min: number, max: number) => fc.option(fc.integer({ min, max }), { nil: Infinity });
const scenario = fc.record({
  ops: fc.array(fc.oneof({ arbitrary: addOp, weight: 8 }, { arbitrary: planOp, weight: 1 }), { maxLength: 160, size: 'max' }),
  limits: fc.record({ commands: axis(0, 20), bytes: axis(500, 8000), ageS: axis(60, 20_000) }),
  target: fc.oneof({ arbitrary: fc.constant(32), weight: 1 }, { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 2 }),
});

/** One planner run on `m`, checked against the reference and the invariants (throws: fast-check shrinks). */
function checkRun(m: Model, l: RetentionLimits, target: number): RetentionPlan {
  const expected = reference(m, l, target);
  const h0 = m.horizon.size;
  const before = new Set(m.horizon.entries().map((e) => toHex(e.id)));
  const plan = m.plan(l, target);
  assert.deepEqual({ prune: plan.prune, kept: plan.keptHeads }, expected, 'the plan is §4.2 read literally');
  assert.deepEqual([...new Set(m.horizon.entries().map((e) => toHex(e.id)))], [...before], 'the input horizon is not modified');
  const ownProtected = (): number => m.counted().filter((h) => m.own[h] && h >= m.heldFloor).length;
  assert.ok(!plan.prune.some((h) => m.own[h] && h >= m.heldFloor), '(d) no protected command pruned');
  m.apply(plan);
  for (let h = 0; h < m.size; h++) {
    if (m.kinds[h] !== Data || m.children[h] === 0) assert.ok(m.retained[h], `${h}: genesis, membership, heads retained`); // (c)
    if (m.retained[h]) continue;
    const walk = [...m.parents[h]!]; // (a): every data ancestor of a pruned command is pruned
    for (let p = walk.pop(); p !== undefined; p = walk.pop()) {
      assert.ok(m.kinds[p] !== Data || !m.retained[p], `${h} pruned, its data ancestor ${p} retained`);
      walk.push(...m.parents[p]!);
    }
  }
  assert.deepEqual(horizonHandles(m), m.horizonByDefinition(), '(b) horizon = its definition');
  for (const e of m.horizon.entries()) {
    const h = handleOfId(e.id);
    const refs = m.parents.filter((ps, r) => m.retained[r] && ps.includes(h)).length;
    assert.deepEqual([e.depth, e.frontier, m.horizon.refsOf(e.id)], [m.depths[h], m.frontiers[h], refs]);
  }
  assert.ok(m.horizon.size <= Math.max(target, h0), 'pruning grows the horizon only to the cap');
  if (plan.stop === 'within') assert.ok(!m.exceeded(l), '(e) within every bound');
  else assert.ok(m.exceeded(l), 'an early stop leaves a bound exceeded');
  assert.equal(plan.ownAloneExceed, ownProtected() > l.commands, 'Q-3 by brute force');
  const counted = m.counted();
  const fresh = RetentionTotals.fromView(m);
  assert.deepEqual([m.totals.commands, m.totals.bytes, m.totals.own], [counted.length, counted.reduce((s, h) => s + m.lengths[h]!, 0), counted.filter((h) => m.own[h]).length]);
  assert.deepEqual([fresh.commands, fresh.bytes, fresh.own, fresh.oldestS], [m.totals.commands, m.totals.bytes, m.totals.own, m.totals.oldestS]);
  assert.equal(m.totals.oldestS, Math.min(...counted.map((h) => m.times[h]!)));
  for (let h = 0; h < m.size; h++) {
    if (h >= plan.base) assert.ok(m.retained[h], 'nothing pruned above base');
    else if (m.retained[h] && m.kinds[h] === Data) assert.ok(plan.pinnedHeads.includes(h), 'retained data below base is pinned');
  }
  assert.deepEqual(m.plan(l, target).prune, [], '(f) a second run prunes nothing new');
  return plan;
}

t.test('random DAGs, bounds and floors: the plan is §4.2 and every invariant holds', async (t) => {
  const stops = new Map<string, number>();
  fc.assert(
    fc.property(scenario, ({ ops, limits: l, target }) => {
      const m = new Model();
      for (const o of [...ops, { op: 'plan', floor: 0, dt: 0 } satisfies Op]) {
        if (o.op === 'plan') {
          m.nowS += o.dt;
          m.heldFloor = Math.max(m.heldFloor, Math.floor(o.floor * m.size));
          const plan = checkRun(m, l, target);
          const what = `${plan.stop}${plan.prune.length > 0 ? '+pruned' : ''}${plan.keptHeads.length > 0 ? '+kept' : ''}`;
          stops.set(what, (stops.get(what) ?? 0) + 1);
          continue;
        }
        const retained = m.kinds.map((_, h) => h).filter((h) => m.retained[h]).reverse();
        const eligible = [...retained.filter((h) => m.children[h] === 0), ...retained.filter((h) => m.children[h] !== 0), ...horizonHandles(m)];
        const parents = [...new Set(o.picks.map((i) => eligible[i % eligible.length]!))];
        m.add(parents, { kind: o.membership ? Membership : Data, len: o.len, own: o.own, dt: o.dt });
      }
    }),
    { numRuns: 400 },
  );
  // The generator reaches every way a run can end (a guard against a vacuous property).
  const seen = [...stops.keys()].join(' ');
  for (const what of ['within+pruned', 'protected', 'horizon+pruned', '+kept']) t.ok(seen.includes(what), `${what} occurs (${seen})`);
});
