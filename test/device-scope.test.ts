/**
 * agent/sync/device-scope.ts (design §1.9, §6.1): the genesis a gateway signs for
 * `device/<peer id>` — members, roles, order, flags, retention default and config, the nonce from
 * the injected random source — and when a gateway creates one.
 */
import t from 'tap';
import { compareBytes } from '../protocol/command.js';
import { verifyCommandV2 } from '../protocol/command-v2.js';
import { CommandKind, Role } from '../protocol/constants-v2.js';
import { decodeGenesisBody } from '../protocol/genesis.js';
import { MalformedError } from '../protocol/errors.js';
import { identityFromSecret, toHex } from '../protocol/keys.js';
import { DEFAULT_DEVICE_RETENTION, deviceGenesis, deviceGenesisBody, deviceScopeName, genesisRetentionOf, parseRoles, wantsDeviceScope } from '../agent/sync/device-scope.js';

const G = identityFromSecret(new Uint8Array(32).fill(0xa1));
const D = identityFromSecret(new Uint8Array(32).fill(0x07));
const O = identityFromSecret(new Uint8Array(32).fill(0x33));
const G2 = identityFromSecret(new Uint8Array(32).fill(0x01));
const nonce = new Uint8Array(16).fill(9);

t.test('the default device genesis: gateway rwa, device rw, sorted, flags 0, 1,024 commands and 30 days', async (t) => {
  let asked = 0;
  const g = deviceGenesis({}, G, D.publicKey, (n) => {
    asked = n;
    return Uint8Array.from({ length: n }, (_, i) => i);
  });
  t.equal(asked, 16, '16 random bytes');
  t.equal(g.kind, CommandKind.Genesis);
  t.ok(verifyCommandV2(g, G.publicKey), 'signed by the gateway');
  const b = decodeGenesisBody(g.payload);
  t.equal(b.name, `device/${D.peerId}`);
  t.equal(b.name, deviceScopeName(D.publicKey));
  t.match(b.name, /^device\/[0-9a-f]{16}$/);
  t.same([...b.nonce], Array.from({ length: 16 }, (_, i) => i));
  t.equal(b.flags, 0);
  t.same(b.retention, { maxCommands: 1024, maxBytes: 0, maxAgeS: 2_592_000 });
  t.same(b.retention, DEFAULT_DEVICE_RETENTION);
  const roles = new Map(b.members.map((m) => [toHex(m.publicKey), m.roles]));
  t.equal(roles.get(toHex(G.publicKey)), Role.Read | Role.Write | Role.Admin);
  t.equal(roles.get(toHex(D.publicKey)), Role.Read | Role.Write);
  t.equal(b.members.length, 2);
  const g2 = deviceGenesis({}, G, D.publicKey, (n) => new Uint8Array(n).fill(1));
  t.not(toHex(g2.id), toHex(g.id), 'another nonce, another scope');
});

t.test('extra members from the config, sorted by key; repeats of the gateway, the device or an earlier extra are left out', async (t) => {
  const b = deviceGenesisBody({
    members: [
      { key: toHex(O.publicKey), roles: 'a' },
      { key: toHex(G2.publicKey), roles: 'rwa' },
      { key: toHex(D.publicKey), roles: 'r' },
      { key: toHex(O.publicKey), roles: 'r' },
    ],
  }, G.publicKey, D.publicKey, nonce);
  t.equal(b.members.length, 4);
  for (let i = 1; i < b.members.length; i++) t.ok(compareBytes(b.members[i - 1]!.publicKey, b.members[i]!.publicKey) < 0, 'ascending');
  const roles = new Map(b.members.map((m) => [toHex(m.publicKey), m.roles]));
  t.equal(roles.get(toHex(O.publicKey)), Role.Admin, 'the first entry for a key wins');
  t.equal(roles.get(toHex(G2.publicKey)), 7);
  t.equal(roles.get(toHex(D.publicKey)), Role.Read | Role.Write, 'the device keeps rw');
});

t.test('retention from the config: absent axes unbounded, days in seconds, uint32 checked', async (t) => {
  t.same(genesisRetentionOf(undefined), DEFAULT_DEVICE_RETENTION);
  t.same(genesisRetentionOf({ commands: 500 }), { maxCommands: 500, maxBytes: 0, maxAgeS: 0 });
  t.same(genesisRetentionOf({ bytes: 65_536, days: 2 }), { maxCommands: 0, maxBytes: 65_536, maxAgeS: 172_800 });
  t.throws(() => genesisRetentionOf({ days: 50_000 }), MalformedError, 'more seconds than a uint32');
  const b = deviceGenesisBody({ retention: { commands: 64, days: 7 } }, G.publicKey, D.publicKey, nonce);
  t.same(b.retention, { maxCommands: 64, maxBytes: 0, maxAgeS: 604_800 });
});

t.test('roles letters and config refusals', async (t) => {
  t.equal(parseRoles('r'), 1);
  t.equal(parseRoles('wr'), 3);
  t.equal(parseRoles('rwa'), 7);
  for (const bad of ['', 'x', 'rr', 'RWA', 'r w']) t.throws(() => parseRoles(bad), MalformedError, JSON.stringify(bad));
  t.throws(() => deviceGenesisBody({ members: [{ key: 'nothex', roles: 'r' }] }, G.publicKey, D.publicKey, nonce), MalformedError);
  t.throws(() => deviceGenesisBody({}, G.publicKey, D.publicKey, new Uint8Array(8)), MalformedError, 'nonce of 16 bytes');
  const many = Array.from({ length: 15 }, (_, i) => ({ key: toHex(identityFromSecret(new Uint8Array(32).fill(0x40 + i)).publicKey), roles: 'r' }));
  t.throws(() => deviceGenesis({ members: many }, G, D.publicKey, (n) => new Uint8Array(n)), MalformedError, '17 members');
  t.doesNotThrow(() => deviceGenesis({ members: many.slice(0, 14) }, G, D.publicKey, (n) => new Uint8Array(n)), '16 members');
});

t.test('when a gateway creates a device scope (§1.9)', async (t) => {
  const none = (): boolean => false;
  t.ok(wantsDeviceScope({}, G.publicKey, D.publicKey, none));
  t.notOk(wantsDeviceScope({}, G.publicKey, G.publicKey, none), 'not for itself');
  t.notOk(wantsDeviceScope({ exclude: [toHex(D.publicKey)] }, G.publicKey, D.publicKey, none), 'excluded');
  t.notOk(wantsDeviceScope({ exclude: [toHex(D.publicKey).toUpperCase()] }, G.publicKey, D.publicKey, none), 'excluded, any case');
  t.notOk(wantsDeviceScope({}, G.publicKey, D.publicKey, (n) => n === `device/${D.peerId}`), 'already held by name');
  t.ok(wantsDeviceScope({}, G.publicKey, D.publicKey, (n) => n === `device/${O.peerId}`));
});
