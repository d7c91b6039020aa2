/**
 * Crash safety of a scope store (docs/design/v2-scopes.md §5) at durability `always`: a child
 * process commits to one scope directory and prints each acknowledged id; it is killed with
 * SIGKILL at a random moment, repeatedly, and after every kill the scope must open and hold every
 * id the child ever acknowledged, a torn tail cut and logged once. The child runs compiled JS
 * (`dist/testkit/crash-writer.js`, mode `scope`; build first: `npx tsc -p tsconfig.json`).
 */
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRASH_SCOPE, runAndKill } from '../testkit/crash-run.js';
import { fromHex } from '../protocol/keys.js';
import type { Logger } from '../agent/node/log.js';
import { DiskScopeStore } from '../agent/store/scope-store.js';

const writer = fileURLToPath(new URL('../dist/testkit/crash-writer.js', import.meta.url));
const ROUNDS = 12;

t.test('SIGKILL during group-committed scope appends never loses an acknowledged commit', async (t) => {
  // Fail rather than skip: a silently skipped crash test hides exactly the regressions it exists for.
  if (!existsSync(writer)) return t.fail(`${writer} is missing: run \`npx tsc -p tsconfig.json\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const acked: string[] = [];
  let truncations = 0;
  let lost = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const run = await runAndKill(writer, dir, 20 + Math.floor(Math.random() * 280), 'scope');
    t.equal(run.signal, 'SIGKILL', `round ${round}: killed (${run.acked.length} acks) ${run.stderr.slice(-300)}`);
    t.match(run.opened, /^open \d+ \d+$/, 'the child opened the scope');
    if (run.opened.split(' ')[2] !== '0') truncations++;
    acked.push(...run.acked);
    const warned: string[] = [];
    const logger: Logger = { debug() {}, info() {}, error() {}, warn: (_f, m) => void warned.push(m ?? '') };
    const s = await DiskScopeStore.open(dir, { scopeId: CRASH_SCOPE.id, durability: { mode: 'always' }, logger });
    if (s.openReport.truncatedBytes > 0) truncations++;
    const missing = acked.filter((hex) => s.indexOf(fromHex(hex)) < 0);
    lost += missing.length;
    t.same(missing, [], `round ${round}: all ${acked.length} acknowledged commits present (scope holds ${s.size})`);
    t.equal(warned.length, s.openReport.truncatedBytes > 0 ? 1 : 0, 'a repair is logged, a clean open is silent');
    await s.close();
  }
  t.equal(lost, 0);
  t.ok(acked.length > ROUNDS, `${acked.length} commits acknowledged over ${ROUNDS} kills`);
  t.comment(`${acked.length} acknowledged commits, ${truncations} torn tails repaired over ${ROUNDS} kills`);
});
