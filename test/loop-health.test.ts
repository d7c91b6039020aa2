/**
 * agent/node/loop-health.ts: a loop blocked longer than the threshold is unhealthy at once (the
 * tick is stale) and for the window after it runs again (the late tick is remembered), then healthy
 * again; close() makes it unhealthy for good. The block is a busy wait, so the lateness has a hard
 * lower bound (no timer can fire during it); nothing here depends on how fast the machine is.
 */
import t from 'tap';
import { createLoopHealth } from '../agent/node/loop-health.js';
import { until } from '../testkit/wait.js';

const block = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* the loop is wedged */
  }
};

t.test('a blocked loop is unhealthy during the window after the stall, then healthy again', async (t) => {
  const h = createLoopHealth({ intervalMs: 20, thresholdMs: 150, windowMs: 400 });
  t.teardown(() => h.close());
  t.equal(h.healthy(), true, 'healthy when just started');
  block(600);
  t.equal(h.healthy(), false, 'the tick is stale right after the block (its timer could not run)');
  t.ok(h.sinceTickMs() >= 600);
  // The first tick after the block records it.
  await until(() => h.sinceTickMs() < 600, 10_000, 'a tick after the block');
  t.ok(h.lagMs() >= 600 - 20, `the stall is remembered (${Math.round(h.lagMs())} ms)`);
  t.equal(h.healthy(), false, 'still unhealthy within the window');
  await until(() => h.healthy(), 20_000, 'healthy once the window has passed without a stall');
  t.equal(h.lagMs() < 150, true, 'the old stall expired');
  h.close();
  t.equal(h.healthy(), false, 'closed: never healthy again');
});

t.test('an injected clock: a stale tick is unhealthy before any timer runs', async (t) => {
  let now = 0;
  const h = createLoopHealth({ intervalMs: 10, thresholdMs: 1000, windowMs: 5000, now: () => now });
  t.teardown(() => h.close());
  t.equal(h.healthy(), true);
  now = 1009;
  t.equal(h.healthy(), true, 'within interval + threshold');
  now = 1010;
  t.equal(h.healthy(), false, 'the loop has not ticked for interval + threshold');
  await until(() => h.sinceTickMs() === 0, 10_000, 'a tick at the new time');
  t.ok(h.lagMs() >= 1000, 'that tick was 1 s late: a stall');
  t.equal(h.healthy(), false, 'remembered for the window');
});
