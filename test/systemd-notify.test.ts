/**
 * agent/node/systemd-notify.ts through a fake `NOTIFY_SOCKET` and the real `systemd-notify`
 * (systemd 252 here): READY=1 and STATUS= arrive; WATCHDOG=1 repeats while the injected health
 * function holds, stops while it does not, resumes after; WATCHDOG_USEC/WATCHDOG_PID; nothing
 * without NOTIFY_SOCKET; a missing binary (a PATH without it) logs once and turns the notifier
 * off without throwing; a child that hangs is killed and what was asked meanwhile is coalesced
 * into the next one.
 *
 * The fake service manager is testkit/fake-notify.ts (perl's plain recv(), which drops the
 * barrier's descriptor as PID 1 does). socat keeps that descriptor, so against socat every run
 * waits out the tool's 5 s barrier: the test of a hanging child uses exactly that.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNotifier, watchdogIntervalFrom } from '../agent/node/systemd-notify.js';
import type { Logger } from '../agent/node/log.js';
import { countNotify, fakeNotifySocket } from '../testkit/fake-notify.js';
import { findBin } from '../testkit/net.js';
import { until } from '../testkit/wait.js';

const NOTIFY = findBin('systemd-notify');
const SOCAT = findBin('socat');
const dir = mkdtempSync(join(tmpdir(), 'swnotify-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Lines logged, as "level: message". */
function captureLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (_f: object, msg?: string) => void lines.push(`${level}: ${msg ?? ''}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, ...extra });
const count = countNotify;

t.test('WATCHDOG_USEC / 2, only for our pid', async (t) => {
  t.equal(watchdogIntervalFrom({ WATCHDOG_USEC: '30000000' }), 15_000);
  t.equal(watchdogIntervalFrom({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) }), 15_000);
  t.equal(watchdogIntervalFrom({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid + 1) }), null, 'meant for another process');
  t.equal(watchdogIntervalFrom({ WATCHDOG_USEC: '1' }), 1, 'never 0');
  for (const bad of [undefined, '', '0', '-5', '1e6', 'abc']) t.equal(watchdogIntervalFrom({ WATCHDOG_USEC: bad }), null, String(bad));
});

t.test('without NOTIFY_SOCKET nothing is sent', async (t) => {
  const n = createNotifier(env({ WATCHDOG_USEC: '20000' }));
  t.equal(n.enabled, false);
  t.equal(n.watchdogIntervalMs, null, 'no watchdog either');
  let asked = 0;
  n.ready();
  n.status('x');
  n.startWatchdog(() => (asked++, true));
  n.watchdogPing();
  await n.close();
  t.equal(asked, 0, 'the health function is never even asked');
  t.same(createNotifier({}), n, 'the one shared no-op notifier');
});

t.test('READY, STATUS, then WATCHDOG=1 while healthy only', { skip: NOTIFY === '' && 'systemd-notify not installed' }, async (t) => {
  const fake = await fakeNotifySocket(t, dir, 'n1.sock');
  const log = captureLog();
  // 60 ms watchdog interval (WATCHDOG_USEC is in µs; the interval is half of it).
  const n = createNotifier(env({ NOTIFY_SOCKET: fake.path, WATCHDOG_USEC: '120000', WATCHDOG_PID: String(process.pid) }), { log });
  t.equal(n.enabled, true);
  t.equal(n.watchdogIntervalMs, 60);
  n.ready();
  n.status('2 links up');
  await until(() => fake.messages.length >= 2, 10_000, 'READY=1 and STATUS=');
  t.same(fake.messages.slice(0, 2), [['READY=1'], ['STATUS=2 links up']], 'in order, one child at a time');

  let healthy = true;
  let asked = 0;
  n.startWatchdog(() => (asked++, healthy));
  await until(() => count(fake.messages, 'WATCHDOG=1') >= 3, 20_000, 'three watchdog pings');
  healthy = false;
  // A marker after the last ping that may still be in flight, then five more health checks,
  // then a second marker: nothing between the two markers may be a ping.
  n.status('marker 1');
  await until(() => fake.messages.some((m) => m.includes('STATUS=marker 1')), 10_000, 'marker 1');
  const checked = asked;
  await until(() => asked >= checked + 5, 20_000, 'five health checks while unhealthy');
  n.status('marker 2');
  await until(() => fake.messages.some((m) => m.includes('STATUS=marker 2')), 10_000, 'marker 2');
  const i1 = fake.messages.findIndex((m) => m.includes('STATUS=marker 1'));
  const i2 = fake.messages.findIndex((m) => m.includes('STATUS=marker 2'));
  t.same(fake.messages.slice(i1 + 1, i2 + 1).flat(), ['STATUS=marker 2'], 'no WATCHDOG=1 while the loop is unhealthy');
  t.notOk(fake.messages[i2]!.includes('WATCHDOG=1'));

  healthy = true;
  await until(() => fake.messages.slice(i2 + 1).some((m) => m.includes('WATCHDOG=1')), 20_000, 'pings again once healthy');
  n.stopping();
  await n.close();
  t.same(fake.messages.at(-1), ['STOPPING=1'], 'close() waits until STOPPING=1 is out');
  const after = fake.messages.length;
  n.ready();
  n.watchdogPing();
  t.equal(n.enabled, false, 'closed');
  t.equal(fake.messages.length, after);
  t.same(log.lines.filter((l) => l.startsWith('warn')), [], 'no failure logged');
});

t.test('a PATH without systemd-notify: no throw, one log line, notifier off', async (t) => {
  const log = captureLog();
  const n = createNotifier({ PATH: join(dir, 'empty-bin'), NOTIFY_SOCKET: join(dir, 'none.sock'), WATCHDOG_USEC: '20000' }, { log });
  t.doesNotThrow(() => {
    n.ready();
    n.status('up');
    n.startWatchdog(() => true);
  });
  await until(() => !n.enabled, 10_000, 'the notifier turns itself off');
  n.ready();
  n.watchdogPing();
  await n.close();
  t.equal(log.lines.length, 1, 'logged once');
  t.match(log.lines[0], /^warn: cannot run systemd-notify: systemd notifications \(readiness, watchdog\) are off$/);
});

t.test('a child that hangs is killed; what was asked meanwhile goes out coalesced', { skip: (NOTIFY === '' || SOCAT === '') && 'systemd-notify or socat not installed' }, async (t) => {
  // socat keeps the barrier's descriptor, so systemd-notify waits (5 s) after sending.
  const path = join(dir, 'n2.sock');
  const out = join(dir, 'n2.out');
  const socat = spawn(SOCAT, ['-u', `UNIX-RECV:${path}`, `OPEN:${out},creat,append`], { stdio: 'ignore' });
  t.teardown(() => void socat.kill());
  await until(() => existsSync(path), 10_000, 'socat bound');
  const log = captureLog();
  const n = createNotifier(env({ NOTIFY_SOCKET: path }), { log, timeoutMs: 300 });
  n.ready();
  const read = (): string => (existsSync(out) ? readFileSync(out, 'utf8') : '');
  await until(() => read().includes('READY=1'), 10_000, 'READY=1 sent');
  for (let i = 0; i < 5; i++) n.watchdogPing();
  n.status('a');
  n.status('b');
  await until(() => log.lines.filter((l) => l.includes('killed')).length >= 2, 20_000, 'both children killed');
  // Datagrams land back to back in socat's file (no separators); BARRIER=1 follows each message.
  t.equal(read(), 'READY=1BARRIER=1WATCHDOG=1\nSTATUS=bBARRIER=1', 'one WATCHDOG=1 and the latest status, in one message');
  t.match(log.lines[0], /^warn: systemd notification failed: no exit after 300 ms; killed$/);
  await n.close();
});
