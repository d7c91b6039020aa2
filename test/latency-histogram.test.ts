import t from 'tap';
import fc from 'fast-check';
import { LatencyHistogram } from '../agent/sync/latency-histogram.js';

t.test('observations land in the first bucket whose bound they do not exceed', async (t) => {
  const h = new LatencyHistogram([1, 10, 100]);
  for (const v of [0, 1, 1.5, 10, 99, 100, 101, -5, Number.NaN]) h.observe(v);
  const s = h.snapshot();
  t.same(s.cumulative, [4, 6, 8, 9]);
  t.equal(s.count, 9);
  t.equal(s.sumMs, 0 + 1 + 1.5 + 10 + 99 + 100 + 101);
});

t.test('cumulative counts ascend and end at the count (property)', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -10, max: 1e6, noNaN: true }), { maxLength: 200 }), (vals) => {
      const h = new LatencyHistogram();
      for (const v of vals) h.observe(v);
      const s = h.snapshot();
      for (let i = 1; i < s.cumulative.length; i++) if ((s.cumulative[i] ?? 0) < (s.cumulative[i - 1] ?? 0)) return false;
      return s.cumulative[s.cumulative.length - 1] === vals.length && s.count === vals.length;
    }),
  );
  t.pass('property held');
});

t.test('bounds must ascend', async (t) => {
  t.throws(() => new LatencyHistogram([5, 5]), RangeError);
});
