/**
 * firmware-sim/device/device-timer.ts: the simulated device waits a peer's huge `retry_after_ms`
 * in steps instead of letting `setTimeout` fire it after 1 ms (its sync loop arms every poll and
 * Subscribe retry here).
 */
import t from 'tap';
import { DeviceTimer } from '../firmware-sim/device/device-timer.js';

t.test('a wait beyond one Node timer neither fires early nor warns; short ones fire once', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const long = new DeviceTimer();
  const fired: string[] = [];
  long.arm(0xffffffff * 1.2, () => fired.push('long'));
  const short = new DeviceTimer();
  short.arm(5, () => fired.push('a'));
  short.arm(10, () => fired.push('b'));
  await new Promise((r) => setTimeout(r, 60));
  t.same(fired, ['b'], 'the long wait has not fired; the re-armed short one fired once');
  t.same(warnings, [], 'no TimeoutOverflowWarning');
  long.clear();
});
