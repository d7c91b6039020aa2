/**
 * The config key `elideSignatures` (agent/cli/config.ts → engine setting `elide`): false by
 * default, true when set, and anything but a boolean is a config problem naming the key.
 */
import t from 'tap';
import { resolveConfig, validate } from '../agent/cli/config.js';

t.test('elideSignatures: default false, true when set, a non-boolean is refused', async (t) => {
  t.equal(resolveConfig({}).elideSignatures, false, 'off by default');
  t.equal(resolveConfig({ elideSignatures: true }).elideSignatures, true);
  t.same(await validate({ elideSignatures: true }), [], 'true is valid');
  const problems = await validate({ elideSignatures: 'yes' });
  t.equal(problems.length, 1);
  t.match(JSON.stringify(problems[0]), /elideSignatures/, 'the problem names the key');
  t.match(JSON.stringify(problems[0]), /true or false/, 'and says what is expected');
});
