/**
 * Crash safety of durability `always`: a child process commits and prints each acknowledged id;
 * it is killed with SIGKILL at a random moment, repeatedly, and after every kill the store must
 * open and hold every id the child ever acknowledged. The child runs compiled JS
 * (`dist/testkit/crash-writer.js`, built by `make test` before tap runs).
 */
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAndKill } from '../testkit/crash-run.js';
import { fromHex } from '../protocol/keys.js';
import { DiskStore } from '../agent/store/disk-store.js';

const writer = fileURLToPath(new URL('../dist/testkit/crash-writer.js', import.meta.url));
const ROUNDS = 20;

t.test('SIGKILL during group-committed appends never loses an acknowledged commit', async (t) => {
  // Fail rather than skip: a silently skipped crash test hides exactly the regressions it exists for.
  if (!existsSync(writer)) return t.fail(`${writer} is missing: run \`make build\` (or \`make test\`) first`);
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const acked: string[] = [];
  let truncations = 0;
  let lost = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const run = await runAndKill(writer, dir, 20 + Math.floor(Math.random() * 280));
    t.equal(run.signal, 'SIGKILL', `round ${round}: killed (${run.acked.length} acks)`);
    t.match(run.opened, /^open \d+ \d+$/, 'the child opened the store');
    if (run.opened.split(' ')[2] !== '0') truncations++;
    acked.push(...run.acked);
    const logged: string[] = [];
    const s = await DiskStore.open(dir, { durability: { mode: 'always' }, logger: (m) => logged.push(m) });
    if (s.openReport.truncatedBytes > 0) truncations++;
    const missing = acked.filter((hex) => s.indexOf(fromHex(hex)) < 0);
    lost += missing.length;
    t.same(missing, [], `round ${round}: all ${acked.length} acknowledged commits present (store holds ${s.size})`);
    t.equal(logged.length, s.openReport.truncatedBytes > 0 ? 1 : 0, 'a repair is logged, a clean open is silent');
    await s.close();
  }
  t.equal(lost, 0);
  t.ok(acked.length > ROUNDS, `${acked.length} commits acknowledged over ${ROUNDS} kills`);
  t.comment(`${acked.length} acknowledged commits, ${truncations} torn tails repaired over ${ROUNDS} kills`);
});
