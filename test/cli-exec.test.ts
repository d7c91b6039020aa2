/**
 * `syncwire tail --exec`, run as a service runs it: real `syncwire tail` processes (the compiled
 * dist/agent/cli/main.js; build first) against a real `syncwire agent` on its unix socket, with
 * a shell script per command that appends what it got to a file. Checked: a crash (the
 * tail's whole process group SIGKILLed while a script runs) and a restart handle every command
 * at least once, in order, none skipped, with a valid cursor file; a failing script is retried
 * (never skipped); the cursor file wins over --after; SIGTERM while a script runs ends tail with
 * status 0 without acknowledging that command; --follow survives an agent restart; on protocol 2
 * the program gets SYNCWIRE_KIND / SYNCWIRE_SCOPE (the scripts skip the scope's genesis by it).
 */
import t from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliHarness, commandIds, postCommand } from '../testkit/cli-proc.js';
import { readCursorFile } from '../agent/cli/cursor-file.js';
import { until } from '../testkit/wait.js';

const h = new CliHarness();
t.teardown(() => h.cleanup());

/** The lines the script appended ("<id> <payload>"), as [id, payload] pairs. */
function handled(out: string): [string, string][] {
  if (!existsSync(out)) return [];
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => [l.slice(0, 64), l.slice(65)]);
}

/** The cursor of the `i`th data command of the agent's scope: its genesis holds handle 0. */
const cursorOf = (ids: string[], i: number): string => `${i + 1}-${ids[i]!.slice(0, 16)}`;

/** Script prologue: a scope's genesis (and membership commands) are acknowledged unhandled. */
const DATA_ONLY = `[ "$SYNCWIRE_KIND" = data ] || { cat > /dev/null; exit 0; }\n`;

/**
 * A script that appends "<id> <payload>" to `out` (one write: a line is there whole or not at
 * all) and, for the payload `holdOn`, writes its process group to `<dir>/pgid` and waits while
 * `gate` exists.
 */
function script(dir: string, out: string, gate: string, holdOn: string): string {
  const f = join(dir, 'handle.sh');
  writeFileSync(
    f,
    `${DATA_ONLY}payload=$(cat)\nprintf '%s %s\\n' "$SYNCWIRE_ID" "$payload" >> '${out}'\n` +
      `if [ "$payload" = '${holdOn}' ]; then ps -o pgid= -p $$ > '${join(dir, 'pgid')}'; while [ -e '${gate}' ]; do sleep 0.02; done; fi\n`,
  );
  return f;
}

t.test('a crash and a restart: every command at least once, in order, none skipped; the cursor file stays valid', async (t) => {
  const d = h.tmp('swx-');
  const a = await h.agent(d);
  const c = await h.run(['commit', '--stdin', '-d', d], 30000, { input: Array.from({ length: 30 }, (_, i) => `p${i}\n`).join('') });
  t.equal(c.code, 0, c.stderr);
  const out = join(d, 'out');
  const gate = join(d, 'gate');
  writeFileSync(gate, '');
  const cf = join(d, 'cursor');
  const args = ['tail', '--follow', '-d', d, '--exec', `sh ${script(d, out, gate, 'p12')}`, '--cursor-file', cf];

  const first = h.start(args, { detached: true });
  await until(() => existsSync(join(d, 'pgid')) && readFileSync(join(d, 'pgid'), 'utf8').trim() !== '', 30000, 'the script got p12');
  // Added while the script for p12 hangs: the restarted tail must get them too.
  for (let i = 30; i < 35; i++) await postCommand(a.socket, `p${i}`);
  // tail and its script (in a process group of its own) die at once, as in a cgroup kill.
  const scriptGroup = Number(readFileSync(join(d, 'pgid'), 'utf8').trim());
  await first.killGroup();
  process.kill(-scriptGroup, 'SIGKILL');
  const ids = await commandIds(a.socket);
  t.equal(readCursorFile(cf), cursorOf(ids, 11), 'the cursor file names the last command whose script exited 0');
  t.same(handled(out).map(([id]) => id), ids.slice(0, 13), 'before the crash: p0..p12, in order');

  rmSync(gate);
  const second = h.start(args);
  await until(() => handled(out).length === 36, 30000, 'every command handled');
  const r = await second.stop('SIGTERM');
  t.equal(r.code, 0, r.stderr);
  const all = handled(out);
  t.same(all.map(([id]) => id), [...ids.slice(0, 13), ...ids.slice(12)], 'p12 replayed once (at-least-once), then the rest in order');
  t.same(all.map(([, p]) => p), [...ids.slice(0, 13), ...ids.slice(12)].map((_, i) => `p${i < 13 ? i : i - 1}`), 'each with its payload on stdin');
  t.equal(readCursorFile(cf), cursorOf(ids, 34), 'the cursor file names the last command');
  t.equal(readFileSync(cf, 'utf8'), cursorOf(ids, 34) + '\n');
});

t.test('a failing script is retried with back-off, never skipped; the cursor file wins over --after', async (t) => {
  const d = h.tmp('swy-');
  const a = await h.agent(d);
  for (const p of ['a', 'b', 'c']) await postCommand(a.socket, p);
  const out = join(d, 'out');
  const once = join(d, 'failed-once');
  const f = join(d, 'flaky.sh');
  writeFileSync(f, `${DATA_ONLY}payload=$(cat)\nif [ "$payload" = b ] && [ ! -e '${once}' ]; then : > '${once}'; echo "fail $payload" >> '${out}'; exit 3; fi\necho "$payload $SYNCWIRE_SEQ $SYNCWIRE_CURSOR" >> '${out}'\n`);
  const cf = join(d, 'cursor');
  const ids = await commandIds(a.socket);
  const r = await h.run(['tail', '-d', d, '--exec', `sh ${f}`, '--cursor-file', cf]);
  t.equal(r.code, 0, r.stderr);
  t.same(readFileSync(out, 'utf8').split('\n').filter(Boolean), ['a 1 ' + cursorOf(ids, 0), 'fail b', 'b 2 ' + cursorOf(ids, 1), 'c 3 ' + cursorOf(ids, 2)], 'b failed, was run again, then c');
  t.match(r.stderr, /--exec for 2-[0-9a-f]{16} \(id [0-9a-f]{12}\) exited 3; attempt 1, retrying in 1 s/);
  t.equal(readCursorFile(cf), cursorOf(ids, 2));

  await postCommand(a.socket, 'd');
  const again = await h.run(['tail', '-d', d, '--after', cursorOf(ids, 0), '--exec', `sh ${f}`, '--cursor-file', cf]);
  t.equal(again.code, 0, again.stderr);
  t.equal(readFileSync(out, 'utf8').split('\n').filter(Boolean).at(-1), `d 4 ${cursorOf(await commandIds(a.socket), 3)}`, 'resumed from the cursor file, not --after');
  t.equal(readFileSync(out, 'utf8').split('\n').filter(Boolean).length, 5, 'only d was new');

  // Protocol 2: the program learns each command's scope and kind (the genesis first).
  const kinds = join(d, 'kinds');
  const k = await h.run(['tail', '-d', d, '--exec', `cat > /dev/null; echo "$SYNCWIRE_KIND $SYNCWIRE_SCOPE" >> '${kinds}'`, '--cursor-file', join(d, 'kinds.cursor')]);
  t.equal(k.code, 0, k.stderr);
  t.same(readFileSync(kinds, 'utf8').split('\n').filter(Boolean), ['genesis local/test', ...Array(4).fill('data local/test')], 'SYNCWIRE_KIND and SYNCWIRE_SCOPE');

  writeFileSync(cf, 'garbage\n');
  const bad = await h.run(['tail', '-d', d, '--exec', `sh ${f}`, '--cursor-file', cf]);
  t.equal(bad.code, 78, 'a cursor file that holds no cursor is a config problem');
  t.match(bad.stderr, 'not a cursor file');
});

t.test('SIGTERM while a script runs: exit 0, that command not acknowledged; --follow outlives an agent restart', async (t) => {
  const d = h.tmp('swz-');
  let a = await h.agent(d);
  await postCommand(a.socket, 'first');
  await postCommand(a.socket, 'hold');
  const out = join(d, 'out');
  const gate = join(d, 'gate');
  writeFileSync(gate, '');
  const cf = join(d, 'cursor');
  const args = ['tail', '--follow', '-d', d, '--exec', `sh ${script(d, out, gate, 'hold')}`, '--cursor-file', cf];
  const p = h.start(args);
  await until(() => handled(out).length === 2, 30000, 'the script got "hold"');
  const r = await p.stop('SIGTERM');
  t.equal(r.code, 0, r.stderr);
  t.equal(readCursorFile(cf), cursorOf(await commandIds(a.socket), 0), '"hold" was not acknowledged (its script was stopped)');

  rmSync(gate);
  const q = h.start(args);
  await until(() => handled(out).length === 3, 30000, '"hold" handled again');
  // The agent restarts: the follower reconnects after its last command and sees the next one.
  t.equal((await a.stop()).code, 0);
  await q.waitStderr(/reopening after 2-[0-9a-f]{16}/);
  a = await h.agent(d);
  await postCommand(a.socket, 'after restart');
  await until(() => handled(out).length === 4, 30000, 'the command committed after the restart');
  const end = await q.stop('SIGINT');
  t.equal(end.code, 0, end.stderr);
  t.same(handled(out).map(([, p]) => p), ['first', 'hold', 'hold', 'after restart']);
  t.equal(readCursorFile(cf), cursorOf(await commandIds(a.socket), 2));
});
