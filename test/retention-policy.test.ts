/** Retention policy (§4.1): config validation and resolution config → genesis → forever. */
import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import {
  FOREVER, limitsOf, matchRetentionKey, parseRetentionConfig, resolveRetention, RetentionConfigError, type RetentionConfig,
} from '../agent/store/retention-policy.js';

const NO_GENESIS = { maxCommands: 0, maxBytes: 0, maxAgeS: 0 };

t.test('resolution: exact name, then the longest prefix, then "*"', async (t) => {
  const config = parseRetentionConfig({
    '*': 'forever',
    'device/*': { commands: 1024 },
    'device/lab/*': { days: 7 },
    'device/lab/x1': { bytes: 65_536 },
  });
  const limits = (name: string) => resolveRetention(config, name, NO_GENESIS);
  t.same(limits('device/lab/x1'), { limits: { commands: Infinity, bytes: 65_536, ageS: Infinity }, source: { from: 'config', key: 'device/lab/x1' } });
  t.same(limits('device/lab/x2'), { limits: { commands: Infinity, bytes: Infinity, ageS: 7 * 86_400 }, source: { from: 'config', key: 'device/lab/*' } });
  t.same(limits('device/6a38'), { limits: { commands: 1024, bytes: Infinity, ageS: Infinity }, source: { from: 'config', key: 'device/*' } });
  t.same(limits('fleet/test'), { limits: FOREVER, source: { from: 'config', key: '*' } });
  t.equal(matchRetentionKey(config, 'device'), '*', 'a prefix key needs its "/"');
  t.equal(matchRetentionKey(config, 'devices/a'), '*');
  t.equal(matchRetentionKey({ 'device/*': 'forever' }, 'fleet/x'), undefined);
  t.equal(matchRetentionKey(undefined, 'fleet/x'), undefined);
  t.equal(matchRetentionKey({}, 'constructor'), undefined, 'Object.prototype members are not keys');
});

t.test('resolution: the genesis unless all three axes are 0 (0 = unbounded), then forever', async (t) => {
  const genesis = { maxCommands: 1024, maxBytes: 0, maxAgeS: 2_592_000 };
  t.same(resolveRetention(undefined, 'device/a', genesis), { limits: { commands: 1024, bytes: Infinity, ageS: 2_592_000 }, source: { from: 'genesis' } });
  t.same(resolveRetention({ 'fleet/*': 'forever' }, 'device/a', genesis).source, { from: 'genesis' }, 'no key matches');
  t.same(resolveRetention({ 'device/*': 'forever' }, 'device/a', genesis).limits, FOREVER, 'the config wins over the genesis');
  t.same(resolveRetention(undefined, 'device/a', NO_GENESIS), { limits: FOREVER, source: { from: 'default' } });
  t.same(resolveRetention(undefined, 'x', { maxCommands: 0, maxBytes: 0, maxAgeS: 1 }).limits, { commands: Infinity, bytes: Infinity, ageS: 1 });
  t.same(limitsOf({}), FOREVER, 'an empty policy bounds nothing');
  t.same(limitsOf({ commands: 1, bytes: 2, days: 3 }), { commands: 1, bytes: 2, ageS: 259_200 });
});

t.test('parseRetentionConfig refuses with a reason and names the key', async (t) => {
  const refuses = (json: unknown, reason: string, key: string | null, text: RegExp) => {
    try {
      parseRetentionConfig(json);
      t.fail(`accepted ${JSON.stringify(json)}`);
    } catch (err) {
      t.ok(err instanceof RetentionConfigError, 'typed error');
      const e = err as RetentionConfigError;
      t.same([e.name, e.reason, e.key], ['RetentionConfigError', reason, key]);
      t.match(e.message, text);
    }
  };
  refuses([], 'not-an-object', null, /^scopes\.retention: expected an object/);
  refuses(null, 'not-an-object', null, /got null/);
  refuses('forever', 'not-an-object', null, /got "forever"/);
  refuses({ 'Device/a': 'forever' }, 'bad-key', 'Device/a', /"Device\/a": not a scope name/);
  refuses({ 'dev*': 'forever' }, 'bad-key', 'dev*', /not a scope name/);
  refuses({ '/*': 'forever' }, 'bad-key', '/*', /not a scope name/);
  refuses({ 'device/*/x': 'forever' }, 'bad-key', 'device/*/x', /not a scope name/);
  refuses({ ['a'.repeat(65)]: 'forever' }, 'bad-key', 'a'.repeat(65), /not a scope name/);
  refuses({ '*': 'always' }, 'bad-value', '*', /expected "forever" or \{ commands\?, bytes\?, days\? \}, got "always"/);
  refuses({ '*': [1] }, 'bad-value', '*', /got \[1\]/);
  refuses({ 'a': { commands: 0 } }, 'bad-value', 'a', /"a"\.commands: expected a positive integer/);
  refuses({ 'a': { bytes: 1.5 } }, 'bad-value', 'a', /\.bytes: .* got 1\.5/);
  refuses({ 'a': { days: '7' } }, 'bad-value', 'a', /\.days: .* got "7"/);
  refuses({ 'a': { days: 1e15 } }, 'bad-value', 'a', /\.days: expected a positive integer ≤ 104249991374/);
  refuses({ 'a': { commands: 5, count: 5 } }, 'bad-value', 'a', /\.count: unknown field/);
  t.throws(() => parseRetentionConfig({ x: 3 }, 'cfg.scopes.retention'), /^cfg\.scopes\.retention\."x": expected/, 'the path prefix');
  t.same(parseRetentionConfig({ 'a.b-c_d/e': { commands: 3 }, 'x/*': {}, '*': 'forever' }), { 'a.b-c_d/e': { commands: 3 }, 'x/*': {}, '*': 'forever' });
});

t.test('the most specific key always wins (random configs)', async (t) => {
  const segment = fc.constantFrom('a', 'b', 'ab');
  const name = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
  fc.assert(
    fc.property(fc.array(fc.oneof(name, name.map((n) => `${n}/*`), fc.constant('*')), { maxLength: 8 }), name, (keys, scope) => {
      const config: RetentionConfig = parseRetentionConfig(Object.fromEntries(keys.map((k, i) => [k, { commands: i + 1 }])));
      const got = matchRetentionKey(config, scope);
      const matching = Object.keys(config).filter((k) => k === scope || k === '*' || (k.endsWith('/*') && scope.startsWith(k.slice(0, -1))));
      const rank = (k: string): number => (k === scope ? Infinity : k === '*' ? 0 : k.length);
      const best = matching.sort((a, b) => rank(b) - rank(a))[0];
      assert.equal(got, best);
      if (got !== undefined) assert.equal(resolveRetention(config, scope, NO_GENESIS).limits.commands, config[got] === 'forever' ? Infinity : config[got]?.commands);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random configs');
});
