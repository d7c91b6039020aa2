/**
 * The HTTP API's scope surface (contract session 7; design v2-scopes.md §5.5, §6.2) on a real
 * protocol-2 node over its unix socket: a v1 store migrated at start into the read-only
 * `legacy/v1` (streamed as `kind: "v1"`, commits refused 409 `read_only`, found by id), the
 * default scope (the only one held, legacy not counted), scopes by 64-hex id, unknown scopes
 * 404, cursors per scope, trust reload; and a node started without `scopes` (protocol 2 by
 * default) holding none: a commit without a scope is 400 "scope required".
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCommand } from '../protocol/command.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import { apiRequest, type ApiTarget } from '../agent/api/api-client.js';
import type { ScopedEntry } from '../agent/api/scope-feed.js';
import { resolveConfig, type ResolvedConfig } from '../agent/cli/config.js';
import type { ConfigFile } from '../agent/cli/config-schema.js';
import { createLogger } from '../agent/cli/logger.js';
import type { ScopeInfo } from '../agent/cli/snapshot-v2.js';
import { ensureKeyFile, startResolvedAgent } from '../agent/cli/start-agent.js';
import { DiskStore } from '../agent/store/disk-store.js';

const root = mkdtempSync(join(tmpdir(), 'sw-api-scopes-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const log = createLogger('silent');
const sock = (dir: string): ApiTarget => ({ socketPath: join(dir, 'status.sock') });
const lines = (text: string): ScopedEntry[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ScopedEntry);

function v2(c: ConfigFile, scopes: object): ResolvedConfig & { protocol: 2 } {
  return Object.assign(resolveConfig(c), { protocol: 2 as const, scopes });
}

t.test('a v2 node: legacy/v1 migrated read-only, default scope, scopes by id, errors, reload', async (t) => {
  const dir = join(root, 'v2');
  mkdirSync(dir, { mode: 0o700 });
  ensureKeyFile(join(dir, 'key.json'));
  // A v1 store with one command, as a v1 agent left it.
  const v1 = await DiskStore.open(dir, { durability: { mode: 'always' } });
  const me = generateIdentity();
  const old = encodeCommand({ parents: [], author: me.author, seq: 1, payload: new TextEncoder().encode('{"v1":true}') }, (m) => me.sign(m));
  v1.append(old);
  await v1.close();
  const peer = generateIdentity();
  const keysFile = join(dir, 'trusted-keys');
  writeFileSync(keysFile, '', { mode: 0o600 });
  const cfg = (): ResolvedConfig & { protocol: 2 } =>
    v2({ dataDir: dir, keyFile: join(dir, 'key.json'), trust: { mode: 'list', keysFile } }, { create: [{ name: 'app/x', members: [{ key: 'self', roles: 'rwa' }] }] });
  let node = await startResolvedAgent(cfg(), 'agent', log);
  t.teardown(() => node.close());
  t.notOk(existsSync(join(dir, 'commands.log')), 'the v1 log moved into scopes/legacy-v1');
  const s = sock(dir);

  const scopes = ((await apiRequest(s, 'GET', '/v1/scopes')).json as { scopes: ScopeInfo[] }).scopes;
  t.same(scopes.map((x) => [x.name, x.readOnly, x.commands]), [['app/x', false, 1], ['legacy/v1', true, 1]]);
  t.equal(scopes[0]?.roles, 'rwa');

  const c = (await apiRequest(s, 'POST', '/v1/commands', { body: '{"n":1}', contentType: 'application/json' })).json as { id: string; cursor: string; scope: string };
  t.equal(c.scope, 'app/x', 'no scope named: the only scope held (legacy/v1 not counted)');
  const byId = lines((await apiRequest(s, 'GET', `/v1/commands?scope=${scopes[0]!.id}`)).text);
  t.same(byId.map((e) => [e.scope, e.kind]), [['app/x', 'genesis'], ['app/x', 'data']], 'a scope named by its 64-hex id');
  t.same(lines((await apiRequest(s, 'GET', `/v1/commands?scope=app/x&after=${c.cursor}`)).text), []);
  t.same(lines((await apiRequest(s, 'GET', '/v1/commands?scope=app/x&limit=1')).text).map((e) => e.kind), ['genesis']);

  const legacy = lines((await apiRequest(s, 'GET', '/v1/commands?scope=legacy/v1')).text);
  t.same(legacy.map((e) => [e.scope, e.kind, e.id]), [['legacy/v1', 'v1', toHex(old.id)]]);
  t.same(legacy[0]?.json, { v1: true });
  t.equal(((await apiRequest(s, 'GET', `/v1/commands/${toHex(old.id)}`)).json as ScopedEntry).scope, 'legacy/v1', 'GET /v1/commands/<id> looks in every scope');
  t.equal(((await apiRequest(s, 'GET', `/v1/commands/${c.id}`)).json as ScopedEntry).scope, 'app/x');

  await t.rejects(apiRequest(s, 'POST', '/v1/commands?scope=legacy/v1', { body: 'x' }), { name: 'ApiAnswerError', status: 409, reason: 'read_only' });
  await t.rejects(apiRequest(s, 'POST', '/v1/commands?scope=nope/x', { body: 'x' }), { name: 'ApiAnswerError', status: 404, reason: 'not_found' });
  await t.rejects(apiRequest(s, 'GET', '/v1/commands?scope=nope/x'), { name: 'ApiAnswerError', status: 404, reason: 'not_found' });
  await t.rejects(apiRequest(s, 'GET', `/v1/commands?scope=app/x&after=1-${'0'.repeat(16)}`), { name: 'ApiAnswerError', status: 410, reason: 'cursor_unknown' });
  await t.rejects(apiRequest(s, 'GET', '/v1/commands?scope=app/x&after=zz'), { name: 'ApiAnswerError', status: 400, reason: 'bad_request' });
  await t.rejects(apiRequest(s, 'GET', '/v1/commands?scope=a&scope=b'), { name: 'ApiAnswerError', status: 400, reason: 'bad_request' });

  const status = (await apiRequest(s, 'GET', '/v1/status')).json as { protocol: number; scopes: ScopeInfo[]; commands: number };
  t.equal(status.protocol, 2);
  t.same(status.scopes.map((x) => x.name), ['app/x', 'legacy/v1']);
  t.equal(status.commands, 3, 'genesis and one command in app/x, one in legacy/v1');
  t.match((await apiRequest(s, 'GET', '/metrics')).text, /syncwire_scope_commands\{scope="app\/x"\} 2/);
  t.equal((await apiRequest(s, 'GET', '/readyz')).status, 200);

  writeFileSync(keysFile, `${toHex(peer.publicKey)} peer-1\n`, { mode: 0o600 });
  const reloaded = (await apiRequest(s, 'POST', '/v1/reload')).json as { ok: boolean; trusted: number; added: number };
  t.same([reloaded.ok, reloaded.trusted, reloaded.added], [true, 1, 1], 'trust reload reaches the v2 engine');

  // A restart: the migration is done, app/x is not created again, both scopes are whole.
  await node.close();
  node = await startResolvedAgent(cfg(), 'agent', log);
  t.same(node.scopes().map((x) => [x.name, x.commands]), [['app/x', 2], ['legacy/v1', 1]]);
  await t.rejects(node.commit('x', { scope: 'legacy/v1' }), { name: 'ScopeError', reason: 'read_only' });
});

t.test('a node started with the defaults runs protocol 2 and, holding no scope yet, asks for one', async (t) => {
  const dir = join(root, 'defaults');
  mkdirSync(dir, { mode: 0o700 });
  ensureKeyFile(join(dir, 'key.json'));
  const node = await startResolvedAgent(resolveConfig({ dataDir: dir, keyFile: join(dir, 'key.json') }), 'agent', log);
  t.teardown(() => node.close());
  const s = sock(dir);
  t.equal('protocol' in node ? node.protocol : 1, 2, 'protocol 2 when the config names none');
  t.same((await apiRequest(s, 'GET', '/v1/scopes')).json, { scopes: [] }, 'no scope held');
  await t.rejects(apiRequest(s, 'POST', '/v1/commands', { body: 'x' }), { name: 'ApiAnswerError', status: 400, reason: 'bad_request', message: /scope required/ });
  await t.rejects(apiRequest(s, 'GET', '/v1/commands'), { name: 'ApiAnswerError', status: 400, reason: 'bad_request', message: /scope required/ });
  await t.rejects(apiRequest(s, 'GET', '/v1/commands?scope=app/x'), { name: 'ApiAnswerError', status: 404, reason: 'not_found' });
  t.match((await apiRequest(s, 'GET', '/v1/status')).json, { protocol: 2, commands: 0, scopes: [] });
});
