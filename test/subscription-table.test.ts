/**
 * agent/sync/subscription-table.ts on a fake clock: capacity checks, insert/update/remove with
 * open addressing (checked against a Map under heavy collisions with fast-check), expiry and
 * suspension (PROTOCOL.md §9.3), eviction of suspended slots when full, known heads and via lists.
 */
import t from 'tap';
import fc from 'fast-check';
import { MAX_VIA } from '../protocol/constants.js';
import { MAX_KNOWN, SubscriptionCapacityError, SubscriptionTable, SUSPEND_MS } from '../agent/sync/subscription-table.js';

t.test('capacity: a power of two in [1, 65536], else SubscriptionCapacityError', async (t) => {
  for (const c of [1, 2, 128, 65536]) t.equal(new SubscriptionTable(c).capacity, c);
  for (const c of [0, 3, 100, 65537, 131072, 1.5, -4, Number.NaN]) {
    t.throws(() => new SubscriptionTable(c), SubscriptionCapacityError, `${c} refused`);
  }
  try {
    new SubscriptionTable(6);
  } catch (err) {
    t.match(err, { name: 'SubscriptionCapacityError', reason: 'BadCapacity', message: /got 6/ });
  }
});

t.test('upsert, find, update in place, remove; full until a slot frees', async (t) => {
  const tab = new SubscriptionTable(4);
  const slots = ['a', 'b', 'c', 'd'].map((p, i) => tab.upsert(p, 1000 + i, 100));
  t.equal(new Set(slots).size, 4, 'four distinct slots');
  t.equal(tab.size, 4);
  t.equal(tab.upsert('e', 1000, 100), -1, 'full: -1');
  t.equal(tab.find('e'), -1);
  const b = tab.find('b');
  tab.markDirty(b);
  t.equal(tab.upsert('b', 5000, 7), b, 'an existing peer keeps its slot');
  t.same([tab.closeAtOf(b), tab.remainingOf(b), tab.isDirty(b)], [5000, 7, true], 'times and budget updated, pending work kept');
  t.equal(tab.peerAt(b), 'b');
  t.ok(tab.remove('b'));
  t.notOk(tab.remove('b'), 'removing twice: false');
  t.equal(tab.peerAt(b), '', 'a freed slot has no peer');
  const e = tab.upsert('e', 2000, 1);
  t.ok(e >= 0, 'room again');
  t.notOk(tab.isDirty(e), 'a new subscriber starts clean');
  t.equal(tab.earliestClose(), 1000);
  const seen: string[] = [];
  tab.forEach((_slot, peer) => seen.push(peer));
  t.same(seen.sort(), ['a', 'c', 'd', 'e']);
  t.equal(new SubscriptionTable(8).earliestClose(), Infinity);
});

t.test('reap: expired subscriptions, and suspended ones after SUSPEND_MS; resume keeps one', async (t) => {
  const tab = new SubscriptionTable(8);
  tab.upsert('short', 1000, 1);
  tab.upsert('long', 10 * SUSPEND_MS, 1);
  tab.upsert('gone', 10 * SUSPEND_MS, 1);
  tab.upsert('back', 10 * SUSPEND_MS, 1);
  t.equal(tab.reap(999), 0);
  t.equal(tab.reap(1000), 1, 'expiry is inclusive');
  t.equal(tab.find('short'), -1);
  tab.suspend('gone', 2000);
  tab.suspend('back', 2000);
  tab.suspend('nobody', 2000);
  tab.resume('back');
  t.equal(tab.reap(2000 + SUSPEND_MS - 1), 0, 'a suspended subscription is kept for SUSPEND_MS');
  t.equal(tab.reap(2000 + SUSPEND_MS), 1);
  t.same([tab.find('gone'), tab.find('back') >= 0, tab.find('long') >= 0], [-1, true, true], 'the resumed one stays');
  tab.suspend('long', 0);
  t.equal(tab.reap(SUSPEND_MS + 1), 1, 'a link closed at time 0 still counts as suspended (from 1 ms: 0 means linked)');
});

t.test('full table: the slot suspended first is freed for a new peer; none suspended, none freed', async (t) => {
  const tab = new SubscriptionTable(4);
  for (const p of ['a', 'b', 'c', 'd']) tab.upsert(p, 1e12, 1);
  tab.suspend('c', 500);
  tab.suspend('a', 700);
  const e = tab.upsert('e', 1e12, 1);
  t.ok(e >= 0);
  t.same(['a', 'b', 'c', 'd', 'e'].map((p) => tab.find(p) >= 0), [true, true, false, true, true], 'c (suspended first) made room');
  t.ok(tab.upsert('f', 1e12, 1) >= 0, 'then a');
  t.equal(tab.find('a'), -1);
  t.equal(tab.upsert('g', 1e12, 1), -1, 'nothing suspended: full');
  tab.suspend('b', 900);
  t.equal(tab.upsert('b', 1e12, 1), tab.find('b'), 'the same peer re-subscribing resumes its slot');
  t.equal(tab.upsert('g', 1e12, 1), -1, 'b is no longer suspended');
});

t.test('known heads and via peers: replaced, capped, read back', async (t) => {
  const tab = new SubscriptionTable(2);
  const s = tab.upsert('p', 1, 1);
  tab.setKnown(s, Int32Array.from({ length: 15 }, (_, i) => 100 + i));
  t.same(tab.knownOf(s), Array.from({ length: MAX_KNOWN }, (_, i) => 100 + i), 'the first MAX_KNOWN kept');
  tab.setKnown(s, [7]);
  t.same(tab.knownOf(s), [7]);
  tab.setVia(s, Array.from({ length: MAX_VIA + 3 }, (_, i) => `v${i}`));
  t.ok(tab.hasVia(s, 'v0') && tab.hasVia(s, `v${MAX_VIA - 1}`));
  t.notOk(tab.hasVia(s, `v${MAX_VIA}`), 'past MAX_VIA dropped');
  tab.setVia(s, ['w']);
  t.same([tab.hasVia(s, 'w'), tab.hasVia(s, 'v0')], [true, false], 'replaced, not appended');
  tab.remove('p');
  const again = tab.upsert('p', 1, 1);
  t.same([tab.knownOf(again), tab.hasVia(again, 'w')], [[], false], 'a new subscription starts with neither');
});

t.test('model: random upserts, removes, suspends and reaps agree with a Map (capacity 8, many collisions)', async (t) => {
  const peer = fc.integer({ min: 0, max: 23 }).map((i) => `peer${i}`);
  const op = fc.oneof(
    fc.record({ k: fc.constant('upsert' as const), p: peer, close: fc.integer({ min: 1, max: 1000 }) }),
    fc.record({ k: fc.constant('remove' as const), p: peer }),
    fc.record({ k: fc.constant('suspend' as const), p: peer }),
    fc.record({ k: fc.constant('reap' as const) }),
    fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: SUSPEND_MS }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const cap = 8;
      const tab = new SubscriptionTable(cap);
      // Model: peer → close time and suspension time (0: has a link), in insertion order.
      const m = new Map<string, { close: number; since: number }>();
      let now = 1;
      for (const o of ops) {
        if (o.k === 'upsert') {
          const had = m.get(o.p);
          if (had === undefined && m.size >= cap) {
            let best: string | undefined;
            for (const [p, v] of m) if (v.since > 0 && (best === undefined || v.since < m.get(best)!.since)) best = p;
            if (best !== undefined) m.delete(best);
          }
          const slot = tab.upsert(o.p, now + o.close, 1);
          if (had !== undefined || m.size < cap) m.set(o.p, { close: now + o.close, since: 0 });
          if ((slot >= 0) !== m.has(o.p)) return false;
        } else if (o.k === 'remove') {
          if (tab.remove(o.p) !== m.delete(o.p)) return false;
        } else if (o.k === 'suspend') {
          now += 1; // distinct suspension times: which of two equal ones is evicted is unspecified
          tab.suspend(o.p, now);
          const v = m.get(o.p);
          if (v !== undefined) v.since = now;
        } else if (o.k === 'reap') {
          let n = 0;
          for (const [p, v] of m) if (v.close <= now || (v.since > 0 && v.since + SUSPEND_MS <= now)) (m.delete(p), n++);
          if (tab.reap(now) !== n) return false;
        } else now += o.ms;
        if (tab.size !== m.size) return false;
        for (let i = 0; i < 24; i++) if ((tab.find(`peer${i}`) >= 0) !== m.has(`peer${i}`)) return false;
        for (const p of m.keys()) if (tab.peerAt(tab.find(p)) !== p) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass('500 random sequences');
});
