/**
 * Bootstrap progress end to end: two real v2 engines on a memory link, A holding 300 commands of
 * an open-read scope that B joins, B's poll budget small so the bootstrap takes several polls.
 * B's engine emits `poll-answer` for each answer of A (`more` = true with A's `total`, then
 * `more` = false), and the reporter on B logs `bootstrap started` then `bootstrap finished` with
 * have = total.
 */
import t from 'tap';
import { BootstrapProgress } from '../agent/cli/bootstrap-progress.js';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { Logger } from '../agent/node/log.js';
import type { PollAnswered } from '../agent/sync/engine-events.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity } from '../protocol/keys.js';
import { until } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

const SCOPE = 'fleet/boot';
const N = 300;

t.test('a bootstrap of 300 commands over several polls: answers, then started and finished lines', async (t) => {
  const [ai, bi] = [generateIdentity(), generateIdentity()];
  const a = await EngineV2.open({ identity: ai, trust: { mode: 'list', keys: [bi.publicKey] }, tuning: FAST_V2 });
  // A small budget and no trains: each poll brings a few dozen commands.
  const b = await EngineV2.open({ identity: bi, trust: { mode: 'list', keys: [ai.publicKey] }, tuning: { ...FAST_V2, pollMaxBytes: 4096, pollTrainBytes: 0 }, scopes: { join: [SCOPE] } });
  t.teardown(async () => Promise.all([a.close(), b.close()]));
  await a.createScope({ name: SCOPE, members: [{ publicKey: ai.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  for (let i = 0; i < N; i++) await a.commit(SCOPE, new TextEncoder().encode(`reading ${i} `.padEnd(64, '.')));

  const answers: PollAnswered[] = [];
  b.on('poll-answer', (x) => x.scope === SCOPE && x.peer === a.peerId && answers.push(x));
  const lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const keep = (fields: object, msg?: string): void => void lines.push({ msg: msg ?? '', fields: fields as Record<string, unknown> });
  const log: Logger = { debug: () => undefined, info: keep, warn: keep, error: keep };
  const progress = new BootstrapProgress(b, { log });
  t.teardown(() => progress.stop());

  const [la, lb] = createMemoryLinkPair();
  a.attach(la);
  b.attach(lb);
  await until(() => lines.some((l) => l.msg === 'bootstrap finished'), 20_000, 'the bootstrap finished');

  const end = answers.findIndex((x) => !x.more);
  t.ok(end >= 2, `several polls before the round ended (${end + 1} answers)`);
  t.ok(answers.slice(0, end).every((x) => x.more && x.total === N + 1), 'every earlier answer: more, with A\'s total (its genesis and 300 commands)');
  t.match(answers[end], { more: false, total: N + 1 });
  t.equal(answers.slice(0, end + 1).reduce((n, x) => n + x.commands, 0), N + 1, 'the answers appended every command here');
  const boot = lines.filter((l) => l.msg.startsWith('bootstrap '));
  t.same(boot.map((l) => l.msg), ['bootstrap started', 'bootstrap finished']);
  t.match(boot[0], { fields: { peer: a.peerId, scope: SCOPE, total: N + 1 } });
  t.ok((boot[0]!.fields.have as number) < N + 1, 'started short of the total');
  t.match(boot[1], { fields: { peer: a.peerId, scope: SCOPE, have: N + 1, total: N + 1, commands: N + 1 } });
  t.ok((boot[1]!.fields.bytes as number) > N * 64, 'bytes counted');
  t.equal(progress.active, 0);
});
