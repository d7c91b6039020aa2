/**
 * agent/sync/poll-shaper.ts: slow start, shrinking on timeouts and growing back on answers, the
 * fit-nothing growth past a small configured maximum, and the learned timeout; any sequence of
 * events keeps every figure within its bounds (fast-check).
 */
import t from 'tap';
import fc from 'fast-check';
import { MAX_HEADS, MAX_SAMPLE, POLL_FIT_ANY_BYTES } from '../protocol/constants.js';
import { MAX_TIMEOUT_MS, MIN_BUDGET, MIN_TIMEOUT_MS, PollShaper, START_BUDGET } from '../agent/sync/poll-shaper.js';

t.test('slow start: 4 KiB first, doubling per answer up to the maximum', async (t) => {
  const s = new PollShaper(65536, 10000, 0);
  const seen = [s.budget];
  for (let i = 0; i < 6; i++) {
    s.answered(50, 100);
    seen.push(s.budget);
  }
  t.same(seen, [START_BUDGET, 8192, 16384, 32768, 65536, 65536, 65536]);
  t.equal(new PollShaper(1000, 10000, 0).budget, 1000, 'a maximum below the start is used at once');
});

t.test('a timeout quarters budget and sample, floors them, and answers grow them back', async (t) => {
  const s = new PollShaper(65536, 10000, 0);
  t.same([s.sampleCap, s.headsCap], [MAX_SAMPLE, MAX_HEADS], 'full caps before anything happened');
  s.timedOut();
  t.same([s.budget, s.sampleCap, s.headsCap], [1024, 25, 2]);
  for (let i = 0; i < 3; i++) s.timedOut();
  t.same([s.budget, s.sampleCap, s.headsCap], [MIN_BUDGET, 0, 1], 'floors: MIN_BUDGET, no sample, one head');
  s.answered(100, 100);
  t.same([s.budget, s.sampleCap, s.headsCap], [2 * MIN_BUDGET, 1, 2]);
  for (let i = 0; i < 20; i++) s.answered(100, 100);
  t.same([s.budget, s.sampleCap, s.headsCap], [65536, MAX_SAMPLE, MAX_HEADS], 'back to the configured maximum');
  const tiny = new PollShaper(100, 1000, 0);
  tiny.timedOut();
  t.equal(tiny.budget, 100, 'the floor is never above the configured maximum');
});

t.test('fit nothing: doubles past a small maximum up to the fit-any size, never past the frame limit', async (t) => {
  const capped = new PollShaper(400, 10000, 0);
  capped.fitNothing();
  t.equal(capped.budget, 400, 'the frame limit defaults to the maximum: no growth');
  const s = new PollShaper(400, 10000, 0, 65536);
  s.fitNothing();
  t.equal(s.budget, 800);
  s.fitNothing();
  s.fitNothing();
  t.equal(s.budget, POLL_FIT_ANY_BYTES, 'up to POLL_FIT_ANY_BYTES');
  s.answered(100, 100);
  t.equal(s.budget, 400, 'an answer brings it back to the configured maximum');
  const framed = new PollShaper(400, 10000, 0, 600);
  framed.fitNothing();
  framed.fitNothing();
  t.equal(framed.budget, 600, 'capped by the frame limit');
  const big = new PollShaper(65536, 10000, 0);
  big.fitNothing();
  t.equal(big.budget, 8192, 'a large maximum: plain doubling');
});

t.test('the timeout is learned from answers: latency from small ones, per-byte time from large ones', async (t) => {
  const s = new PollShaper(4096, 10000, 0);
  t.equal(s.timeoutMs(100), 10000, 'unmeasured: twice half the initial timeout');
  for (let i = 0; i < 30; i++) s.answered(20, 200);
  t.equal(s.timeoutMs(100), MIN_TIMEOUT_MS, 'a fast link: the shortest timeout');
  for (let i = 0; i < 30; i++) s.answered(2020, 4000);
  const slow = s.timeoutMs(100);
  t.ok(slow > 2 * 4096 * 0.4 && slow < 2 * (20 + 4196 * 0.6), `about twice latency + 0.5 ms/byte × bytes (${slow} ms)`);
  for (let i = 0; i < 30; i++) s.answered(1_000_000, 4000);
  const capped = s.timeoutMs(100);
  t.ok(capped >= 2 * 4196 && capped <= 2 * (30 + 4196), `a very slow answer teaches at most 1 ms/byte (${capped} ms)`);
  const lossy = new PollShaper(4096, 10000, 0);
  for (let i = 0; i < 30; i++) lossy.answered(20, 200);
  for (let i = 0; i < 20; i++) lossy.timedOut();
  t.equal(lossy.timeoutMs(0), 2 * 5000, 'timeouts back the latency off, never past the first guess');
  t.equal(new PollShaper(4096, 1e9, 0).timeoutMs(0), MAX_TIMEOUT_MS, 'never longer than MAX_TIMEOUT_MS');
});

t.test('property: any sequence of events keeps budget, caps and timeout in bounds', async (t) => {
  const event = fc.oneof(
    fc.record({ e: fc.constant('answered' as const), ms: fc.integer({ min: 0, max: 100_000 }), bytes: fc.integer({ min: 0, max: 70_000 }) }),
    fc.record({ e: fc.constant('timedOut' as const) }),
    fc.record({ e: fc.constant('fitNothing' as const) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 64, max: 65536 }), fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 64, max: 65536 }), fc.array(event, { maxLength: 60 }), (max, initial, frame, events) => {
      const s = new PollShaper(max, initial, 0.01, frame);
      const low = Math.min(MIN_BUDGET, max);
      const high = Math.max(max, Math.min(frame, Math.max(max, POLL_FIT_ANY_BYTES)));
      for (const ev of events) {
        if (ev.e === 'answered') s.answered(ev.ms, ev.bytes);
        else if (ev.e === 'timedOut') s.timedOut();
        else s.fitNothing();
        const to = s.timeoutMs(200);
        if (s.budget < low || s.budget > high) return false;
        if (s.sampleCap < 0 || s.sampleCap > MAX_SAMPLE || s.headsCap < 1 || s.headsCap > MAX_HEADS) return false;
        if (to < MIN_TIMEOUT_MS || to > MAX_TIMEOUT_MS || !Number.isInteger(to)) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass('500 random sequences');
});
