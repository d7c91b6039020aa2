/**
 * The sender's clocks and sizes (protocol/arq/rtt.ts): the RTO stays within its clamps and above
 * the receiver's ACK delay whatever the samples, backoff doubles and ends on progress, and the
 * chunk size stays within its bounds, halves once per loss episode and grows back when clean.
 */
import t from 'tap';
import fc from 'fast-check';
import { ChunkSizer, INITIAL_RTO, MAX_RTO, MIN_RTO, RttEstimator } from '../protocol/arq/rtt.js';

const samples = fc.array(fc.double({ min: -10, max: 3000, noNaN: true }), { minLength: 1, maxLength: 60 });

t.test('RTO: within [50 ms, 1 s] and never below the smallest RTT + 120 ms (capped at 1 s)', (t) => {
  fc.assert(
    fc.property(samples, (xs) => {
      const e = new RttEstimator();
      let smallest = Infinity;
      for (const x of xs) {
        e.sample(x);
        smallest = Math.min(smallest, Math.max(0, x));
        const floor = Math.min(smallest + 120, MAX_RTO);
        if (!(e.rto >= MIN_RTO && e.rto <= MAX_RTO && e.rto >= floor - 1e-9)) return false;
        if (e.minRtt < 0 || e.srtt < 0 || e.rttvar < 0) return false;
      }
      return e.currentRto === e.rto;
    }),
  );
  t.pass('RTO clamps hold');
  t.end();
});

t.test('RTO: the first sample sets srtt and rttvar (RFC 6298 2.2), a steady RTT keeps srtt', (t) => {
  const e = new RttEstimator();
  t.equal(e.rto, INITIAL_RTO, 'initial RTO 1 s');
  t.equal(e.holeTimeout(), null, 'no hole timeout before a sample');
  e.sample(200);
  t.equal(e.srtt, 200);
  t.equal(e.rttvar, 100);
  t.equal(e.rto, 600, 'srtt + 4·rttvar');
  for (let i = 0; i < 50; i++) e.sample(200);
  t.equal(e.srtt, 200, 'a steady RTT is the estimate');
  t.equal(e.rto, 320, 'variance gone: the floor minRtt + 120 rules');
  t.equal(e.holeTimeout(), 2 * 200 + 10 + 25, 'a hole times out after 2 minRtt + ACK gap + lead');
  t.equal(e.holeResendGap(), 1.5 * 200 + 25, 'a hole is resent about once per RTT');
  e.reset();
  t.same([e.srtt, e.rto, e.minRtt, e.backoff], [0, INITIAL_RTO, Infinity, 0], 'reset forgets the samples');
  t.end();
});

t.test('backoff: doubles per timeout round (a round counts once), capped, ended by progress', (t) => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constant('timeout' as const), fc.constant('same' as const), fc.constant('progress' as const)), { maxLength: 40 }), (ops) => {
      const e = new RttEstimator();
      e.sample(100);
      let now = 0;
      let rounds = 0;
      let lastTimeout = -Infinity;
      for (const op of ops) {
        const before = e.currentRto;
        if (op === 'progress') {
          e.progress(++now);
          rounds = 0;
          if (e.backoff !== 0 || e.lastProgressAt !== now || e.currentRto !== e.rto) return false;
          continue;
        }
        if (op === 'timeout') now++;
        e.timeout(now); // 'same': another chunk timing out at the same moment
        if (now > lastTimeout) rounds = Math.min(rounds + 1, 8);
        lastTimeout = now;
        if (e.backoff !== rounds || e.currentRto < before || e.currentRto > MAX_RTO) return false;
        if (e.currentRto !== Math.min(e.rto * 2 ** rounds, MAX_RTO)) return false;
        if (e.probing !== rounds >= 2) return false;
      }
      return true;
    }),
  );
  t.pass('backoff rules hold');
  t.end();
});

type SizeOp = { op: 'clean' } | { op: 'loss'; dt: number; rtt: number } | { op: 'reset' };
const sizeOps = fc.array(
  fc.oneof(
    fc.constant<SizeOp>({ op: 'clean' }),
    fc.record({ op: fc.constant('loss' as const), dt: fc.integer({ min: 0, max: 400 }), rtt: fc.integer({ min: 0, max: 300 }) }),
    fc.constant<SizeOp>({ op: 'reset' }),
  ),
  { maxLength: 80 },
);

t.test('chunk size: within [min, max]; one halving per loss episode; doubles after growAfter clean acks', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 8 }), sizeOps, (min, up, start, growAfter, ops) => {
      const max = min << up;
      const initial = Math.min(min << start, max);
      const s = new ChunkSizer(min, max, initial, growAfter);
      let now = 0;
      let lastDecrease = -Infinity;
      let clean = 0;
      for (const o of ops) {
        const before = s.size;
        if (o.op === 'reset') {
          s.reset();
          lastDecrease = -Infinity;
          clean = 0;
          if (s.size !== initial) return false;
        } else if (o.op === 'clean') {
          clean++;
          s.cleanAck();
          const grows = clean >= growAfter && before < max;
          if (grows) clean = 0;
          if (s.size !== (grows ? Math.min(2 * before, max) : before)) return false;
        } else {
          now += o.dt;
          clean = 0;
          s.loss(now, o.rtt);
          const episode = now < lastDecrease + Math.max(2 * o.rtt, 100);
          if (!episode) lastDecrease = now;
          const want = episode ? before : Math.max(min, before >> 1);
          if (s.size !== want) return false;
        }
        if (s.size < min || s.size > max) return false;
      }
      return true;
    }),
  );
  t.pass('chunk-size rules hold');
  t.throws(() => new ChunkSizer(64, 32, 48, 1), RangeError, 'min above max is refused');
  t.end();
});
