/**
 * agent/sync/session-timers.ts `Intake`: frames are handled in arrival order within a turn's
 * budget, and a frame that is never handled is always passed to `overflow` (counted by the
 * session as intakeDropped): beyond the byte cap, or still waiting when the intake stops.
 */
import t from 'tap';
import { INTAKE_TURN_MS, Intake } from '../agent/sync/session-timers.js';

const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* spin: a handler that takes the turn's budget */
  }
};

t.test('frames still waiting when the intake stops are passed to overflow, none silently', async (t) => {
  const handled: number[] = [];
  const dropped: number[] = [];
  const intake = new Intake(
    (b) => {
      handled.push(b[0]!);
      busy(INTAKE_TURN_MS + 2); // the first frame uses up the turn: the rest must wait
    },
    (b) => dropped.push(b[0]!),
  );
  for (let i = 0; i < 5; i++) intake.push(Uint8Array.of(i));
  t.same(handled, [0], 'one frame handled this turn');
  intake.stop();
  t.same(dropped, [1, 2, 3, 4], 'the four waiting frames are reported dropped, in order');
  intake.push(Uint8Array.of(9));
  intake.stop();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.same(handled, [0], 'nothing handled after stop');
  t.same(dropped, [1, 2, 3, 4], 'a frame after stop is ignored, a second stop reports nothing twice');
});

t.test('waiting frames are handled on later turns in arrival order', async (t) => {
  const handled: number[] = [];
  const intake = new Intake(
    (b) => {
      handled.push(b[0]!);
      if (b[0] === 0) busy(INTAKE_TURN_MS + 2);
    },
    () => t.fail('nothing dropped'),
  );
  for (let i = 0; i < 4; i++) intake.push(Uint8Array.of(i));
  for (let i = 0; i < 10 && handled.length < 4; i++) await new Promise((r) => setImmediate(r));
  t.same(handled, [0, 1, 2, 3]);
});
