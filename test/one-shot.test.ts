/**
 * agent/sync/session-timers.ts `OneShot`: a delay beyond what one Node timer holds (2^31 − 1 ms)
 * is waited in steps, never collapsed to 1 ms (a peer's `retry_after_ms` can be 2^32 − 1, and
 * jitter lengthens it; the v1 and v2 poll loops and subscriptions arm their waits here).
 */
import t from 'tap';
import { MAX_TIMER_MS, OneShot } from '../agent/sync/session-timers.js';

t.test('a wait longer than one timer holds neither fires early nor warns', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const shot = new OneShot();
  let fired = false;
  shot.arm(0xffffffff * 1.2, () => (fired = true));
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(fired, 'not fired after 50 ms');
  t.ok(shot.armed, 'still armed');
  t.same(warnings, [], 'no TimeoutOverflowWarning');
  shot.clear();
  t.notOk(shot.armed);
});

t.test('short waits fire once, a re-arm replaces, a clear cancels', async (t) => {
  const shot = new OneShot();
  const fired: string[] = [];
  shot.arm(5, () => fired.push('a'));
  shot.arm(10, () => fired.push('b'));
  const cleared = new OneShot();
  cleared.arm(5, () => fired.push('c'));
  cleared.clear();
  await new Promise((r) => setTimeout(r, 60));
  t.same(fired, ['b']);
  t.notOk(shot.armed, 'disarmed after firing');
  t.equal(MAX_TIMER_MS, 2147483647);
});
