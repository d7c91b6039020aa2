/**
 * A commit refused because a bounded scope is full of own commands no peer holds yet
 * (RetentionFullError, design v2-scopes.md §11.1) is "try again later" everywhere: the API answers
 * 507 `retention_full` with the figures, the CLI exits 75 through the agent and offline.
 * (Before the mapping it was a 500 `internal` with a logged stack, and exit 1.)
 */
import t from 'tap';
import { ApiAnswerError } from '../agent/api/api-client.js';
import { toApiError } from '../agent/api/respond.js';
import { apiFailure } from '../agent/cli/api-target.js';
import { EXIT } from '../agent/cli/exit-codes.js';
import { exitStatusOf } from '../agent/cli/exit-status.js';
import { RetentionFullError } from '../agent/sync/retention-full-error.js';

const logged: string[] = [];
const log = { error: (_o: object, m: string) => void logged.push(m), warn: () => {}, info: () => {}, debug: () => {}, trace: () => {}, fatal: () => {}, child: () => log };

t.test('the API answers 507 retention_full with the scope and its figures', async (t) => {
  const e = toApiError(new RetentionFullError('device/abc', 1024, 1024), log as never, 'commit');
  t.equal(e.status, 507);
  t.equal(e.reason, 'retention_full');
  t.match(e.extra, { scope: 'device/abc', unacknowledged: 1024, bound: 1024 });
  t.same(logged, [], 'no internal-error log line');
});

t.test('the CLI exits 75 (try again later), through the agent and offline', async (t) => {
  t.equal(apiFailure(new ApiAnswerError(507, 'retention_full', 'full'), { socketPath: '/x' }).status, EXIT.tempFail);
  t.equal(exitStatusOf(new RetentionFullError('s', 1, 1)), EXIT.tempFail);
});
