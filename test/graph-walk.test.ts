/**
 * agent/sync/graph-walk.ts: `missingFor` and the resumable `MissingWalk` against a reference
 * computed by brute force over random DAGs (fast-check), the walk's cost on a long chain (the
 * boundary, not the graph), and the request helpers `sampleOf` and `deepestFirst`.
 */
import t from 'tap';
import fc from 'fast-check';
import { MemoryStore } from '../testkit/memory-store.js';
import type { CommandStore } from '../agent/store/command-store.js';
import { deepestFirst, missingFor, MissingWalk, sampleOf } from '../agent/sync/graph-walk.js';
import { randomDag, syntheticCommand } from '../testkit/synthetic-commands.js';

function storeOf(n: number, seed: number): MemoryStore {
  const s = new MemoryStore();
  for (const c of randomDag(n, seed)) s.append(c);
  return s;
}

/** Handles of `roots` and all their ancestors. */
function closure(s: CommandStore, roots: readonly number[]): Set<number> {
  const seen = new Set<number>();
  const todo = roots.filter((h) => h >= 0);
  while (todo.length > 0) {
    const h = todo.pop()!;
    if (seen.has(h)) continue;
    seen.add(h);
    todo.push(...s.parentsOf(h));
  }
  return seen;
}

/** What `missingFor(s, known, from)` must return, by brute force. */
function reference(s: CommandStore, known: readonly number[], from: readonly number[]): number[] {
  const k = closure(s, known);
  return [...closure(s, from)].filter((h) => !k.has(h)).sort((a, b) => a - b);
}

/** A store, some known handles (-1 stands for an id the store lacks) and some walk roots. */
const scenario = fc
  .record({ n: fc.integer({ min: 0, max: 120 }), seed: fc.nat() })
  .chain(({ n, seed }) =>
    fc.record({
      n: fc.constant(n),
      seed: fc.constant(seed),
      known: fc.array(fc.integer({ min: -1, max: Math.max(0, n - 1) }), { maxLength: 12 }),
      from: fc.option(fc.array(fc.integer({ min: 0, max: Math.max(0, n - 1) }), { maxLength: 6 }), { nil: undefined }),
      steps: fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 8 }),
    }),
  );

t.test('missingFor is everything reachable from the roots that no known id implies, ascending', async (t) => {
  fc.assert(
    fc.property(scenario, ({ n, seed, known, from }) => {
      const s = storeOf(n, seed);
      const roots = n === 0 ? [] : from ?? s.heads();
      const knownIn = n === 0 ? known.map(() => -1) : known;
      const got = from === undefined ? missingFor(s, knownIn) : missingFor(s, knownIn, roots);
      return JSON.stringify(got) === JSON.stringify(reference(s, knownIn, roots));
    }),
    { numRuns: 300 },
  );
  t.pass('300 random DAGs');
});

t.test('MissingWalk advanced in chunks gives the one-piece answer; visited counts every pop', async (t) => {
  fc.assert(
    fc.property(scenario, ({ n, seed, known, steps }) => {
      const s = storeOf(n, seed);
      const knownIn = n === 0 ? [] : known;
      const walk = new MissingWalk(s, knownIn);
      let i = 0;
      let before = walk.visited;
      while (!walk.done) {
        const k = steps[i++ % steps.length]!;
        walk.step(k);
        if (walk.visited - before > k) return false; // never more than asked
        before = walk.visited;
      }
      const got = Array.from(walk.result());
      return JSON.stringify(got) === JSON.stringify(missingFor(s, knownIn)) && walk.visited >= got.length && walk.result() === walk.result();
    }),
    { numRuns: 200 },
  );
  t.pass('200 stepped walks');
});

t.test('the walk stops at the boundary: a peer 3 commands behind on a 5,000-chain costs a few pops', async (t) => {
  const s = new MemoryStore();
  let prev: Uint8Array[] = [];
  for (let i = 0; i < 5000; i++) {
    const c = syntheticCommand(prev, i, Uint8Array.of(i & 0xff));
    s.append(c);
    prev = [c.id];
  }
  const walk = new MissingWalk(s, [4996]);
  t.same(Array.from(walk.result()), [4997, 4998, 4999]);
  t.ok(walk.visited <= 5, `visited ${walk.visited} of 5000`);
  t.same(missingFor(s, [4999]), [], 'nothing missing for a peer at the head');
  t.same(missingFor(s, [-1, -1]).length, 5000, 'ids the store lacks imply nothing');
  t.same(missingFor(new MemoryStore(), []), [], 'an empty store has nothing to send');
});

t.test('sampleOf: preferred first, then exponentially older, the root last, unique and capped', async (t) => {
  const s = storeOf(100, 1);
  t.same(sampleOf(s, 20), [99, 98, 96, 92, 84, 68, 36, 0]);
  t.same(sampleOf(s, 20, [50, 99, 50, -1, 100]), [50, 99, 98, 96, 92, 84, 68, 36, 0], 'preferred kept once, out-of-range dropped');
  t.same(sampleOf(s, 3, [7]), [7, 99, 98]);
  t.same(sampleOf(new MemoryStore(), 10), []);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 40 }), fc.array(fc.integer({ min: -5, max: 310 }), { maxLength: 15 }), (n, max, pref) => {
      const st = storeOf(n, n);
      const out = sampleOf(st, max, pref);
      return out.length <= max && new Set(out).size === out.length && out.every((h) => h >= 0 && h < n);
    }),
    { numRuns: 100 },
  );
});

t.test('deepestFirst: by depth, then newest, capped; the input is left alone', async (t) => {
  const s = storeOf(200, 9);
  const hs = [0, 5, 199, 100, 150, 42];
  const copy = [...hs];
  const out = deepestFirst(s, hs, 4);
  t.equal(out.length, 4);
  t.same(hs, copy, 'input not sorted in place');
  for (let i = 1; i < out.length; i++) {
    const [a, b] = [out[i - 1]!, out[i]!];
    t.ok(s.depthOf(a) > s.depthOf(b) || (s.depthOf(a) === s.depthOf(b) && a > b), `${a} before ${b}`);
  }
  const all = deepestFirst(s, hs, 10);
  t.same([...all].sort((a, b) => a - b), [...hs].sort((a, b) => a - b), 'a cap above the count keeps all');
});
