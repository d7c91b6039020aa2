/**
 * The serial dialer's log while its port is missing or unplugged (simulated UART binding): one
 * warn line without a stack when the failure streak starts (and when its cause changes), then
 * debug lines "still unreachable after N attempts". Before `failure-log.ts`, every retry logged
 * a warn line carrying the error object, stack included: an adapter unplugged for a day wrote
 * tens of thousands of stack traces.
 */
import t from 'tap';
import { openTransport, type TransportOptions } from '../agent/transport/registry.js';
import type { Link } from '../agent/link.js';
import { SimRegistry, createSimBinding, createSimLink } from '../firmware-sim/uart/index.js';
import { until } from '../testkit/wait.js';

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger that keeps every line. */
function recorder(): { lines: Line[]; logger: NonNullable<TransportOptions['logger']> } {
  const lines: Line[] = [];
  return {
    lines,
    logger: {
      warn: (obj, msg) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      debug: (obj, msg) => lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
      info: (obj, msg) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
      error: (obj, msg) => lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
    },
  };
}

/** Whether a logged object carries a stack trace anywhere (an Error, or text with "at" frames). */
function hasStack(obj: unknown): boolean {
  if (obj instanceof Error) return true;
  if (typeof obj === 'string') return /\n\s+at /.test(obj);
  if (obj !== null && typeof obj === 'object') return Object.values(obj).some(hasStack);
  return false;
}

const fast: TransportOptions = { reconnectBaseMs: 10, reconnectMaxMs: 40, connectTimeoutMs: 2000 };

t.test('a missing port: one warn line without a stack, then debug lines per attempt', async (tt) => {
  const registry = new SimRegistry();
  const binding = createSimBinding(registry);
  const { lines, logger } = recorder();
  const tr = await openTransport('serial:/dev/sim-missing', { ...fast, binding, logger });
  tt.teardown(() => tr.close());
  let attempts = 0;
  tr.on('warn', () => attempts++);
  await until(() => attempts >= 8, 20_000, '8 failed attempts');
  const warns = lines.filter((l) => l.level === 'warn');
  tt.equal(warns.length, 1, `one warn line for ${attempts} failed attempts`);
  tt.match(warns[0]?.msg, /ENOENT|No such file/, 'the warn line names the cause');
  tt.notOk(lines.some((l) => hasStack(l.obj)), 'no line carries a stack');
  const still = lines.filter((l) => l.level === 'debug' && /^still unreachable after \d+ attempts$/.test(l.msg ?? ''));
  tt.ok(still.length >= attempts - 2, `debug "still unreachable" lines follow (${still.length})`);
  tt.same(still.slice(0, 3).map((l) => l.obj.attempts), [2, 3, 4], 'each names its attempt count');
});

t.test('an unplugged adapter: at most a warn per cause, then debug lines; replug relinks', async (tt) => {
  const registry = new SimRegistry();
  const sim = createSimLink({ pathA: '/dev/simA', pathB: '/dev/simB', registry });
  tt.teardown(() => sim.dispose());
  const binding = createSimBinding(registry);
  const { lines, logger } = recorder();
  const ta = await openTransport('serial:/dev/simA', { ...fast, binding, logger });
  const tb = await openTransport('serial:/dev/simB', { ...fast, binding });
  tt.teardown(() => Promise.all([ta.close(), tb.close()]));
  const linksA: Link[] = [];
  ta.on('link', (l) => linksA.push(l));
  tb.on('link', () => {});
  await until(() => linksA.length === 1, 10_000, 'first link');
  let failures = 0;
  ta.on('warn', () => failures++);
  sim.unplug();
  await until(() => failures >= 10, 20_000, '10 failures while unplugged');
  const warns = lines.filter((l) => l.level === 'warn');
  // The lost link, then the refused reopen (a new cause): two lines for the whole outage.
  tt.ok(warns.length >= 1 && warns.length <= 2, `${warns.length} warn lines for ${failures} failures`);
  tt.notOk(lines.some((l) => hasStack(l.obj)), 'no line carries a stack');
  tt.ok(lines.filter((l) => l.level === 'debug' && /^still unreachable/.test(l.msg ?? '')).length >= failures - 2, 'the rest are debug lines');
  sim.replug();
  await until(() => linksA.length === 2, 10_000, 'a new link after replug');
  tt.equal(lines.filter((l) => l.level === 'warn').length, warns.length, 'no warn line for the recovery');
});
