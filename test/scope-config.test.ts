/**
 * The protocol 2 config keys (contract of session 7; docs/design/v2-scopes.md §6.1): `protocol`
 * and `scopes` validated with messages naming the exact path (bad scope names, pinned ids that
 * are not 64 hex, roles not made of r/w/a, `scopes` with protocol 1, a `create` entry whose
 * "self" is not an admin), the node flags `--protocol`, `--scope-join` (appends),
 * `--scope-default`, and `resolveScopes` with the agent and gateway role defaults.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, resolveConfig, validate } from '../agent/cli/config.js';
import type { ConfigFile } from '../agent/cli/config-schema.js';
import { nodeOverrides } from '../agent/cli/node-flags.js';
import { AGENT_MAX_SCOPES, resolveScopes } from '../agent/cli/scope-config.js';
import { Role } from '../protocol/constants-v2.js';
import { DEFAULT_DEVICE_RETENTION } from '../agent/sync/device-scope.js';

const K1 = '3ee739288b1b600f701828f25630b58cac1e40b4d75b48935617dc3f5b61ee4b';
const K2 = '5b923db411e11ee0c4f1aa00112233445566778899aabbccddeeff0011223344';
const SELF = { peerId: '34750f98bd59fcfc', publicKeyHex: 'ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789' };
const ID = 'a'.repeat(64);

const dir = mkdtempSync(join(tmpdir(), 'swscfg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cfgFile = (name: string, c: object): string => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(c));
  return p;
};

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** The contract's example (README "Configuration"). */
const EXAMPLE: ConfigFile = {
  protocol: 2,
  scopes: {
    default: 'device/self',
    join: [`fleet/acme@${ID}`, 'fleet/lab'],
    max: 8,
    deviceScopes: { members: [{ key: K1, roles: 'rwa' }], exclude: [K2], retention: { commands: 1024, days: 30 } },
    retention: { '*': 'forever', 'device/*': { commands: 100000 } },
    create: [{ name: 'fleet/acme', openRead: true, members: [{ key: 'self', roles: 'rwa' }, { key: K2, roles: 'a' }], retention: { days: 365 } }],
  },
};

t.test('valid configs: the example passes both the generated check and TypeBox; defaults', async (t) => {
  t.same(await validate(EXAMPLE), []);
  t.same(await validate({ protocol: 2, scopes: { deviceScopes: false, retention: {} } }), []);
  const none = resolveConfig({});
  t.equal(none.protocol, 2, 'protocol 2 is the default');
  t.same(none.scopes, {});
  const two = await loadConfig(cfgFile('ex.json', EXAMPLE));
  t.equal(two.protocol, 2);
  t.same(two.scopes, EXAMPLE.scopes, 'scopes kept as written');
});

t.test('problems name the path and what was expected', async (t) => {
  const cases: [object, string, string][] = [
    [{ protocol: 3 }, '/protocol', 'expected 2, got 3'],
    [{ protocol: 1 }, '/protocol', 'protocol 1 was removed in 0.2.0: this release speaks protocol 2 only'],
    [{ protocol: 1, scopes: { join: ['fleet/a'] } }, '/protocol', 'a v1 data dir opens as the scope legacy/v1'],
    [{ protocol: 2, scopes: { join: ['Fleet/Acme'] } }, '/scopes/join/0', 'expected a scope name'],
    [{ protocol: 2, scopes: { join: ['fleet/a', 'fleet/acme@1234'] } }, '/scopes/join/1', 'the pinned scope id after "@" must be 64 hex chars, got "1234"'],
    [{ protocol: 2, scopes: { join: [`fleet/acme@${'g'.repeat(64)}`] } }, '/scopes/join/0', 'must be 64 hex chars'],
    [{ protocol: 2, scopes: { join: 'fleet/a' } }, '/scopes/join', 'expected an array of scope names'],
    [{ protocol: 2, scopes: { default: '-x' } }, '/scopes/default', 'expected a scope name'],
    [{ protocol: 2, scopes: { default: 'a'.repeat(65) } }, '/scopes/default', 'expected a scope name'],
    [{ protocol: 2, scopes: { max: 0 } }, '/scopes/max', 'expected a positive integer, got 0'],
    [{ protocol: 2, scopes: { deviceScopes: true } }, '/scopes/deviceScopes', 'or false, got true'],
    [{ protocol: 2, scopes: { deviceScopes: { members: [{ key: K1, roles: 'rx' }] } } }, '/scopes/deviceScopes/members/0/roles', 'expected roles as letters r, w, a'],
    [{ protocol: 2, scopes: { deviceScopes: { members: [{ key: K1, roles: 'rr' }] } } }, '/scopes/deviceScopes/members/0/roles', 'each at most once'],
    [{ protocol: 2, scopes: { deviceScopes: { members: [{ key: K1, roles: '' }] } } }, '/scopes/deviceScopes/members/0/roles', 'expected roles'],
    [{ protocol: 2, scopes: { deviceScopes: { members: [{ key: 'self', roles: 'r' }] } } }, '/scopes/deviceScopes/members/0/key', 'expected a 64-hex-char ed25519 public key'],
    [{ protocol: 2, scopes: { deviceScopes: { exclude: ['x'] } } }, '/scopes/deviceScopes/exclude/0', 'expected a 64-hex-char'],
    [{ protocol: 2, scopes: { deviceScopes: { retention: { days: 50000 } } } }, '/scopes/deviceScopes/retention/days', 'at most 49710'],
    [{ protocol: 2, scopes: { deviceScopes: { extra: 1 } } }, '/scopes/deviceScopes/extra', 'unknown field'],
    // Paths are JSON pointers: the "/" of a key is written "~1".
    [{ protocol: 2, scopes: { retention: { 'device/*': { weeks: 2 } } } }, '/scopes/retention/device~1*/weeks', 'unknown field (allowed: commands, bytes, days)'],
    [{ protocol: 2, scopes: { retention: { 'device/*': 7 } } }, '/scopes/retention/device~1*', 'expected "forever" or { "commands", "bytes", "days" }, got 7'],
    [{ protocol: 2, scopes: { retention: { 'x/*': { days: 0 } } } }, '/scopes/retention/x~1*/days', 'expected a positive integer number of days'],
    [{ protocol: 2, scopes: { retention: { 'Bad/Key': 'forever' } } }, '/scopes/retention/Bad~1Key', 'expected a scope name, a "prefix/*" pattern or "*" as key'],
    [{ protocol: 2, scopes: { create: [{ name: 'fleet/x', members: [{ key: 'self', roles: 'rw' }] }] } }, '/scopes/create/0/members', 'must be an admin of it'],
    [{ protocol: 2, scopes: { create: [{ name: 'fleet/x', members: [{ key: K1, roles: 'rwa' }] }] } }, '/scopes/create/0/members', 'expected a member { "key": "self"'],
    [{ protocol: 2, scopes: { create: [{ name: 'fleet/x', members: [] }] } }, '/scopes/create/0/members', 'expected an array of 1..16'],
    [{ protocol: 2, scopes: { create: [{ name: 'fleet/x' }] } }, '/scopes/create/0/members', 'missing'],
    [{ protocol: 2, scopes: { create: [{ name: 'Fleet', members: [{ key: 'self', roles: 'a' }] }] } }, '/scopes/create/0/name', 'expected a scope name'],
    [{ protocol: 2, scopes: { create: [{ name: 'f', members: [{ key: 'self', roles: 'a' }, { key: 'SELF', roles: 'r' }] }] } }, '/scopes/create/0/members/1/key', 'or "self"'],
    [{ protocol: 2, scopes: { create: [{ name: 'f', members: [{ key: 'self', roles: 'a' }, { key: K1, roles: 'r' }, { key: K1.toUpperCase(), roles: 'w' }] }] } }, '/scopes/create/0/members', 'is listed twice'],
    [
      { protocol: 2, scopes: { create: [{ name: 'f', members: [{ key: 'self', roles: 'a' }] }, { name: 'f', members: [{ key: 'self', roles: 'a' }] }] } },
      '/scopes/create/1/name',
      'is created twice',
    ],
  ];
  for (const [cfg, path, text] of cases) {
    const problems = await validate(cfg);
    const hit = problems.find((p) => p.path === path && p.text.includes(text));
    t.ok(hit, `${JSON.stringify(cfg)} → ${path}: ${text}; got ${JSON.stringify(problems)}`);
  }
  // As loadConfig prints them: file name, path, text.
  t.match(await refusal(loadConfig(cfgFile('p1.json', { protocol: 1, scopes: { join: ['fleet/a'] } }))), 'p1.json: /protocol: protocol 1 was removed');
  t.match(await refusal(loadConfig(cfgFile('pin.json', { protocol: 2, scopes: { join: ['fleet/acme@12'] } }))), 'pin.json: /scopes/join/0: the pinned scope id');
});

t.test('node flags: --protocol, --scope-join appends to the file, --scope-default', async (t) => {
  const file = cfgFile('flags.json', { protocol: 2, scopes: { join: ['fleet/a'], default: 'fleet/a' } });
  const cfg = await loadConfig(file, nodeOverrides({ 'scope-join': ['fleet/b', `fleet/c@${ID}`], 'scope-default': 'device/self' }, {}));
  t.same(cfg.scopes.join, ['fleet/a', 'fleet/b', `fleet/c@${ID}`]);
  t.equal(cfg.scopes.default, 'device/self');
  const fromFlags = await loadConfig(undefined, nodeOverrides({ protocol: '2', 'scope-join': ['fleet/b'] }, {}));
  t.equal(fromFlags.protocol, 2);
  t.same(fromFlags.scopes, { join: ['fleet/b'] });
  t.match(await refusal(loadConfig(undefined, nodeOverrides({ protocol: '3' }, {}))), '--protocol: /protocol: expected 2, got 3');
  t.match(await refusal(loadConfig(undefined, nodeOverrides({ protocol: '2', 'scope-join': ['fleet/x@zz'] }, {}))), '--scope-join: /scopes/join/0: the pinned scope id');
  t.equal((await loadConfig(undefined, nodeOverrides({ 'scope-default': 'fleet/a' }, {}))).scopes.default, 'fleet/a', 'scope flags need no --protocol (2 is the default)');
  t.match(await refusal(loadConfig(undefined, nodeOverrides({ protocol: '1', 'scope-default': 'fleet/a' }, {}))), '--protocol: /protocol: protocol 1 was removed in 0.2.0');
});

t.test('resolveScopes: agent role defaults', async (t) => {
  const bare = resolveScopes(resolveConfig({ protocol: 2 }), 'agent', SELF);
  t.same(bare, { default: null, join: [], max: AGENT_MAX_SCOPES, deviceScopes: null, retention: {}, create: [] });
  const r = resolveScopes(resolveConfig(EXAMPLE), 'agent', SELF);
  t.equal(r.default, 'device/34750f98bd59fcfc', 'device/self is the own device scope');
  t.same(r.join, EXAMPLE.scopes!.join);
  t.equal(r.max, 8);
  t.same(r.deviceScopes, { members: [{ key: K1, roles: 'rwa' }], exclude: [K2], retention: { commands: 1024, days: 30 } }, 'configured: kept on an agent too');
  t.same(r.retention, EXAMPLE.scopes!.retention, 'the file only (no role default)');
  t.same(r.create, [
    {
      name: 'fleet/acme',
      openRead: true,
      // Sorted by key; "self" is the own key, lowercase.
      members: [
        { key: K2, roles: Role.Admin },
        { key: SELF.publicKeyHex.toLowerCase(), roles: Role.Read | Role.Write | Role.Admin },
      ],
      retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 365 * 86_400 },
    },
  ]);
  const named = resolveScopes(resolveConfig({ protocol: 2, scopes: { default: 'fleet/a', deviceScopes: false } }), 'agent', SELF);
  t.equal(named.default, 'fleet/a');
  t.equal(named.deviceScopes, null);
});

t.test('resolveScopes: gateway role defaults', async (t) => {
  const bare = resolveScopes(resolveConfig({ protocol: 2 }), 'gateway', SELF);
  t.equal(bare.max, Infinity, 'unlimited');
  t.same(bare.deviceScopes, {}, 'device scopes on, with the §1.9 defaults');
  t.same(bare.retention, { '*': 'forever', 'device/*': { days: 30 } }, 'forever, device scopes 30 days (index RAM, §11.3)');
  const off = resolveScopes(resolveConfig({ protocol: 2, scopes: { deviceScopes: false, max: 100, retention: { 'device/*': { commands: 5000 }, 'fleet/acme': { days: 7 } } } }), 'gateway', SELF);
  t.equal(off.deviceScopes, null, 'false turns them off');
  t.equal(off.max, 100);
  t.same(off.retention, { '*': 'forever', 'device/*': { commands: 5000 }, 'fleet/acme': { days: 7 } }, "the file's keys win over the role's");
  const upper = resolveScopes(resolveConfig({ protocol: 2, scopes: { deviceScopes: { exclude: [K1.toUpperCase()] } } }), 'gateway', SELF);
  t.same(upper.deviceScopes, { exclude: [K1] }, 'keys lowercased for device-scope.ts');
});

t.test('resolveScopes: create defaults and what only shows once "self" is known', async (t) => {
  const cfg = resolveConfig({ protocol: 2, scopes: { create: [{ name: 'fleet/x', members: [{ key: 'self', roles: 'ar' }] }] } });
  const [c] = resolveScopes(cfg, 'gateway', SELF).create;
  t.equal(c!.openRead, false);
  t.same(c!.members, [{ key: SELF.publicKeyHex.toLowerCase(), roles: Role.Read | Role.Admin }]);
  t.same(c!.retention, DEFAULT_DEVICE_RETENTION, 'no retention: the §1.9 default window');
  const open = resolveScopes(resolveConfig({ protocol: 2, scopes: { create: [{ name: 'fleet/x', members: [{ key: 'self', roles: 'a' }], retention: {} }] } }), 'agent', SELF);
  t.same(open.create[0]!.retention, { maxCommands: 0, maxBytes: 0, maxAgeS: 0 }, '{}: unbounded');
  const twice = resolveConfig({ protocol: 2, scopes: { create: [{ name: 'fleet/x', members: [{ key: 'self', roles: 'a' }, { key: SELF.publicKeyHex, roles: 'r' }] }] } });
  t.throws(() => resolveScopes(twice, 'agent', SELF), { name: 'ConfigError', message: /scopes\.create\[0\]\.members: key [0-9a-f]{64} is listed twice/ });
  const bad = resolveConfig({ protocol: 2, scopes: { create: [{ name: 'fleet/x', members: [{ key: 'self', roles: 'q' }] }] } });
  t.throws(() => resolveScopes(bad, 'agent', SELF), { name: 'ConfigError', message: /scopes\.create\[0\]\.members\[0\]\.roles/ });
});
