import t from 'tap';
import { createLogger } from '../agent/cli/logger.js';

t.test('JSON lines in pino format: level filter, child bindings, errors, silent', async (t) => {
  const lines: string[] = [];
  const log = createLogger('info', 'syncwire', (l) => lines.push(l));
  log.debug({ a: 1 }, 'dropped below the level');
  log.info({ peer: 'ab12' }, 'link up');
  const child = log.child({ part: 'engine' });
  child.warn({ err: new Error('boom') }, 'peer answers no polls');
  child.error({});
  t.equal(lines.length, 3, 'debug filtered out');
  t.ok(lines.every((l) => l.endsWith('\n')), 'one object per line');
  const [a, b, c] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(a, { level: 30, name: 'syncwire', pid: process.pid, peer: 'ab12', msg: 'link up' });
  t.type(a!.time, 'number');
  t.match(b, { level: 40, part: 'engine', msg: 'peer answers no polls', err: { type: 'Error', message: 'boom' } });
  t.match(c, { level: 50, part: 'engine' });
  t.notOk('msg' in c!, 'no msg when none is given');
  const quiet: string[] = [];
  createLogger('silent', 'x', (l) => quiet.push(l)).fatal({}, 'nothing');
  t.same(quiet, [], 'silent writes nothing');
  t.throws(() => createLogger('loud'), RangeError);
});
