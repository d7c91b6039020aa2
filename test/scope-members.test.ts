/**
 * Membership changes by an operator (`syncwire scope grant|revoke`, `POST /v1/scopes/members`,
 * agent/cli/scope-members.ts): a gateway's fleet scope readable only by its members; an agent
 * granted `r` later joins it (pinned to its id: PROTOCOL.md §6.9) and receives its commands; after `scope revoke` the gateway stops offering
 * it to that agent (active with no peer) and what it commits next never reaches the agent, while
 * the agent's device scope still syncs on the same link; an agent that is no admin is refused
 * (403 not_permitted, exit 1), and the body and flag rules are enforced. Runs the compiled CLI.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiRequest, type ApiTarget } from '../agent/api/api-client.js';
import type { AgentV2 } from '../agent/cli/agent-v2.js';
import { resolveConfig, type ResolvedConfig } from '../agent/cli/config.js';
import type { ConfigFile } from '../agent/cli/config-schema.js';
import { createLogger } from '../agent/cli/logger.js';
import { ensureKeyFile, startResolvedAgent } from '../agent/cli/start-agent.js';
import { CliHarness } from '../testkit/cli-proc.js';
import { until } from '../testkit/wait.js';

const root = mkdtempSync(join(tmpdir(), 'sw-members-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const h = new CliHarness();
t.teardown(() => h.cleanup());
const log = createLogger('silent');
const FLEET = 'fleet/closed';

const v2 = (c: ConfigFile, scopes: object): ResolvedConfig & { protocol: 2 } => Object.assign(resolveConfig(c), { protocol: 2 as const, scopes });
const sock = (dir: string): ApiTarget => ({ socketPath: join(dir, 'status.sock') });
const activeAt = (a: AgentV2, name: string): number => (a.status().scopes.find((s) => s.name === name) as { activePeers?: number } | undefined)?.activePeers ?? -1;

t.test('grant and revoke: a revoked agent is no longer offered the scope and gets nothing more of it', async (t) => {
  const gwDir = join(root, 'gw');
  const aDir = join(root, 'a');
  const gk = ensureKeyFile(join(gwDir, 'key.json'));
  const ak = ensureKeyFile(join(aDir, 'key.json'));
  const gw = await startResolvedAgent(
    v2(
      { dataDir: gwDir, keyFile: join(gwDir, 'key.json'), links: ['tcp-listen://127.0.0.1:0'], trust: { mode: 'list', keys: [ak.publicKey] } },
      { create: [{ name: FLEET, openRead: false, members: [{ key: 'self', roles: 'rwa' }], retention: {} }] },
    ),
    'gateway',
    log,
  );
  t.teardown(() => gw.close());
  const port = gw.status().transports[0]?.localPort;
  // Pinned to its id: the genesis does not name the agent, which becomes a member later (§6.9).
  const fleetId = gw.scopes().find((s) => s.name === FLEET)!.id;
  const a = await startResolvedAgent(
    v2({ dataDir: aDir, keyFile: join(aDir, 'key.json'), links: [`tcp://127.0.0.1:${port}`], trust: { mode: 'list', keys: [gk.publicKey] } }, { default: 'device/self', join: [`${FLEET}@${fleetId}`] }),
    'agent',
    log,
  );
  t.teardown(() => a.close());
  const devA = `device/${ak.peerId}`;
  await until(() => a.scopes().some((s) => s.name === devA && !s.joining), 30_000, 'the device scope at the agent');
  t.notOk(a.scopes().some((s) => s.name === FLEET && !s.joining), 'not a member yet: the closed fleet scope is not offered');

  const granted = await h.run(['scope', 'grant', FLEET, ak.publicKey, 'r', '--socket', join(gwDir, 'status.sock')]);
  t.equal(granted.code, 0, granted.stderr);
  t.match(granted.stdout, /^[0-9a-f]{64}\n$/, 'prints the membership command id');
  const one = await gw.commit({ config: 1 }, { scope: FLEET });
  await until(() => a.command(one.id) !== null, 30_000, 'the fleet config reaches the granted agent');
  t.equal(a.command(granted.stdout.trim())?.kind, 'membership', 'the agent holds the grant too');

  const revoked = await h.run(['scope', 'revoke', FLEET, ak.publicKey, '--socket', join(gwDir, 'status.sock')]);
  t.equal(revoked.code, 0, revoked.stderr);
  await until(() => activeAt(gw, FLEET) === 0, 30_000, 'the gateway no longer syncs the fleet scope with the agent');
  const two = await gw.commit({ config: 2 }, { scope: FLEET });
  const order = await gw.commit({ order: 'still here' }, { scope: devA });
  await until(() => a.command(order.id) !== null, 30_000, 'the device scope still syncs on the same link');
  t.equal(a.command(two.id), null, 'what the gateway commits after the revocation never reaches the agent');

  // The agent is no admin of the fleet scope: refused, and so is a scope it does not hold.
  const notAdmin = await h.run(['scope', 'grant', FLEET, gk.publicKey, 'rw', '--socket', join(aDir, 'status.sock')]);
  t.equal(notAdmin.code, 1);
  t.match(notAdmin.stderr, /not_permitted|not_found/, notAdmin.stderr);
  const unknown = await h.run(['scope', 'revoke', 'fleet/none', ak.publicKey, '--socket', join(gwDir, 'status.sock')]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /not_found/);
  const notAdminApi = apiRequest(sock(aDir), 'POST', `/v1/scopes/members?scope=${encodeURIComponent(devA)}`, { body: JSON.stringify({ members: [{ key: gk.publicKey, roles: 'a' }] }), contentType: 'application/json' });
  await t.rejects(notAdminApi, { name: 'ApiAnswerError', status: 403, reason: 'not_permitted' }, 'a device may not make itself or others admins of its device scope');
});

t.test('the body and flag rules', async (t) => {
  const dir = join(root, 'solo');
  ensureKeyFile(join(dir, 'key.json'));
  const solo = await startResolvedAgent(
    v2({ dataDir: dir, keyFile: join(dir, 'key.json'), links: [] }, { default: 'local/x', create: [{ name: 'local/x', members: [{ key: 'self', roles: 'rwa' }], retention: {} }] }),
    'agent',
    log,
  );
  t.teardown(() => solo.close());
  const post = (body: string, contentType = 'application/json') => apiRequest(sock(dir), 'POST', '/v1/scopes/members?scope=local/x', { body, contentType });
  const key = 'ab'.repeat(32);
  await t.rejects(post('{"members":[]}'), { name: 'ApiAnswerError', status: 400, reason: 'bad_request' }, 'no change');
  await t.rejects(post('not json'), { name: 'ApiAnswerError', status: 400, reason: 'bad_request' }, 'not JSON');
  await t.rejects(post(JSON.stringify({ members: [{ key: 'abc', roles: 'r' }] })), { status: 400, message: /key/ }, 'a short key');
  await t.rejects(post(JSON.stringify({ members: [{ key, roles: 'rr' }] })), { status: 400, message: /roles/ }, 'a role twice');
  await t.rejects(post(JSON.stringify({ members: [{ key, roles: 'r' }, { key, roles: 'w' }] })), { status: 400, message: /twice/ }, 'a key twice');
  await t.rejects(post(JSON.stringify({ members: Array.from({ length: 17 }, (_, i) => ({ key: i.toString(16).padStart(2, '0').repeat(32), roles: 'r' })) })), { name: 'ApiAnswerError', status: 400 }, '17 changes');
  await t.rejects(post(JSON.stringify({ members: [{ key, roles: 'r' }] }), 'text/plain'), { name: 'ApiAnswerError', status: 415, reason: 'unsupported_media_type' }, 'not JSON by content type');
  const ok = await post(JSON.stringify({ members: [{ key, roles: 'rw' }, { key: 'cd'.repeat(32), roles: 'r' }] }));
  t.equal(ok.status, 201, 'two changes in one membership command');
  t.equal((ok.json as { scope: string }).scope, 'local/x');
  const usage = await h.run(['scope', 'grant', 'local/x', key, 'rx', '--socket', join(dir, 'status.sock')]);
  t.equal(usage.code, 2, 'a bad ROLES is a usage error');
  const usage2 = await h.run(['scope', 'revoke', 'local/x', '--socket', join(dir, 'status.sock')]);
  t.equal(usage2.code, 2, 'revoke without KEY');
});
