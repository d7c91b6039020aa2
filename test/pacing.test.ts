/**
 * agent/sync/pacing.ts on a fake clock: the per-peer token bucket (grants, waits, refill, bounded
 * debt), the commit-rate hint (idle, busy, decay, load, bounds) and the client pacer (hints
 * honoured with jitter, exponential backoff, the server's retry-after only ever lengthened).
 */
import t from 'tap';
import fc from 'fast-check';
import { ClientPacer, CommitRate, DEFAULT_BACKOFF, TokenBucket, type BackoffPolicy } from '../agent/sync/pacing.js';

t.test('TokenBucket: capacity at once, then one token per 1/perSecond; wait takes nothing', async (t) => {
  let now = 1_000_000;
  const b = new TokenBucket(3, 2, now);
  t.same([b.take(now), b.take(now), b.take(now)], [0, 0, 0], 'the capacity is granted at once');
  t.equal(b.take(now), 500, 'then 500 ms until the next token at 2/s');
  t.equal(b.wait(now), 500, 'wait does not take');
  now += 250;
  t.equal(b.take(now), 250, 'half a token refilled');
  now += 250;
  t.equal(b.take(now), 0, 'a whole token: granted');
  now += 60_000;
  t.same([b.take(now), b.take(now), b.take(now), b.take(now)], [0, 0, 0, 500], 'refill stops at the capacity');
  t.equal(b.wait(now - 10_000), 500, 'a clock going back refills nothing');
});

t.test('TokenBucket: spent work is debt, bounded by the capacity', async (t) => {
  const now = 5000;
  const b = new TokenBucket(10, 2, now);
  b.spend(4.5, now);
  t.equal(b.wait(now), 0, '5.5 tokens left');
  b.spend(1000, now);
  t.equal(b.wait(now), Math.ceil((11 / 2) * 1000), 'debt floored at -capacity: (capacity + 1) / perSecond s');
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 100 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.double({ min: 0, max: 500, noNaN: true })), { maxLength: 40 }), (cap, rate, steps) => {
      let clock = 0;
      const bucket = new TokenBucket(cap, rate, clock);
      for (const [dt, cost] of steps) {
        clock += dt;
        bucket.spend(cost, clock);
        if (bucket.wait(clock) > Math.ceil(((cap + 1) / rate) * 1000)) return false;
      }
      return true;
    }),
  );
});

t.test('CommitRate: idle hints the maximum; commits shorten it; the rate decays; load spreads it', async (t) => {
  let now = 0;
  const r = new CommitRate({ minMs: 1000, maxMs: 30000 }, now);
  t.equal(r.hintMs(1, now), 30000, 'no commits: the longest hint');
  r.record(60, now);
  t.equal(r.perSecond(now), 1, '60 commits in the 60 s window: 1/s');
  t.equal(r.hintMs(1, now), 1000, 'one a second: poll every second');
  t.equal(r.hintMs(4, now), 4000, 'load multiplies it');
  t.equal(r.hintMs(0.2, now), 1000, 'load below 1 counts as 1');
  r.record(6000, now);
  t.equal(r.hintMs(1, now), 1000, 'never below the minimum');
  t.equal(r.hintMs(1000, now), 30000, 'never above the maximum');
  now += 60_000;
  t.ok(Math.abs(r.perSecond(now) - 101 / Math.E) < 1e-9, 'decays by e over the 60 s window');
  now += 3_600_000;
  t.equal(r.hintMs(1, now), 30000, 'an hour later: idle again');
});

/** A pacer whose random draws come from `draws` in turn. */
const pacer = (draws: number[], policy: BackoffPolicy = DEFAULT_BACKOFF): ClientPacer => {
  let i = 0;
  return new ClientPacer(policy, () => draws[i++ % draws.length]!);
};

t.test('ClientPacer: a success waits the hint ±jitter, within floor and cap', async (t) => {
  t.equal(pacer([0.5]).afterSuccess(2000), 2000, 'the middle draw is the hint itself');
  t.equal(pacer([0]).afterSuccess(2000), 1600, '-20 %');
  t.equal(pacer([0.5]).afterSuccess(0), 50, 'never under the floor');
  t.equal(pacer([1 - 1e-12]).afterSuccess(10_000_000), 60000, 'never over the cap');
});

t.test('ClientPacer: failures back off exponentially; a success resets; timeouts are failures', async (t) => {
  const p = pacer([0.5]);
  t.same([p.afterFailure(), p.afterFailure(), p.afterFailure(), p.afterTimeout()], [250, 500, 1000, 2000]);
  p.succeeded();
  t.equal(p.afterFailure(), 250, 'succeeded() resets the exponent');
  p.afterFailure();
  p.afterSuccess(1000);
  t.equal(p.afterFailure(), 250, 'afterSuccess() resets it too');
  const q = pacer([0.5]);
  for (let i = 0; i < 40; i++) q.afterFailure();
  t.equal(q.afterFailure(), 60000, 'capped after many failures (and the exponent cannot overflow)');
});

t.test('ClientPacer: the server’s retry-after is never shortened, at most lengthened by the jitter, not capped', async (t) => {
  t.equal(pacer([0]).afterFailure(5000), 5000);
  t.equal(pacer([0.5]).afterFailure(5000), 5500);
  t.equal(pacer([0.5]).afterFailure(600_000), 660_000, 'the cap does not apply to the server’s figure');
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 1_000_000 }), (draws, failures, retry) => {
      const p = pacer(draws);
      for (let i = 0; i < failures; i++) p.afterFailure();
      const w = p.afterFailure(retry);
      return w >= retry && w <= Math.round(Math.max(DEFAULT_BACKOFF.capMs, retry * (1 + DEFAULT_BACKOFF.jitter))) && w >= DEFAULT_BACKOFF.floorMs;
    }),
  );
});
