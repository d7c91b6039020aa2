import t from 'tap';
import { shutdownSteps } from '../agent/cli/shutdown-steps.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

t.test('steps run newest first, each once, and a failing step does not stop the others', async (t) => {
  const ran: string[] = [];
  const errors: string[] = [];
  const log = { ...quiet, error: (f: object) => errors.push(String((f as { err: unknown }).err)) };
  const s = shutdownSteps(log, () => void ran.push('lock'));
  s.push(() => void ran.push('store'));
  s.push(() => {
    ran.push('engine');
    throw new Error('engine broke');
  });
  s.push(async () => {
    await new Promise((r) => setImmediate(r));
    ran.push('links');
  });
  await s.unwind();
  t.same(ran, ['links', 'engine', 'store', 'lock']);
  t.same(errors, ['Error: engine broke']);
  await s.unwind();
  t.same(ran, ['links', 'engine', 'store', 'lock'], 'a second unwind runs nothing again');
});
