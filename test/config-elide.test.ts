/**
 * The config key `elideSignatures` (agent/cli/config.ts → engine setting `elide`): false by
 * default, true when set, and anything but a boolean is a config problem naming the key; and
 * `elideSegmentBytes` (→ `elideSegment`): 65,536 by default, 1,024..16,777,216.
 */
import t from 'tap';
import { resolveConfig, validate } from '../agent/cli/config.js';
import { ENGINE_DEFAULTS } from '../agent/sync/engine-settings.js';

t.test('elideSignatures: default false, true when set, a non-boolean is refused', async (t) => {
  t.equal(resolveConfig({}).elideSignatures, false, 'off by default');
  t.equal(resolveConfig({ elideSignatures: true }).elideSignatures, true);
  t.same(await validate({ elideSignatures: true }), [], 'true is valid');
  const problems = await validate({ elideSignatures: 'yes' });
  t.equal(problems.length, 1);
  t.match(JSON.stringify(problems[0]), /elideSignatures/, 'the problem names the key');
  t.match(JSON.stringify(problems[0]), /true or false/, 'and says what is expected');
});

t.test('elideSegmentBytes: default the engine default (65,536), the bounds pass, outside them refused', async (t) => {
  t.equal(resolveConfig({}).elideSegmentBytes, ENGINE_DEFAULTS.elideSegment);
  t.equal(ENGINE_DEFAULTS.elideSegment, 65536);
  t.equal(resolveConfig({ elideSignatures: true, elideSegmentBytes: 1024 }).elideSegmentBytes, 1024);
  t.same(await validate({ elideSegmentBytes: 1024 }), [], 'the least passes');
  t.same(await validate({ elideSegmentBytes: 16777216 }), [], 'the largest passes');
  for (const bad of [1023, 16777217, 4096.5, '65536']) {
    const problems = await validate({ elideSegmentBytes: bad });
    t.equal(problems.length, 1, `${JSON.stringify(bad)} refused`);
    t.match(JSON.stringify(problems[0]), /elideSegmentBytes.*from 1024 to 16777216/, 'naming the key and the range');
  }
});
