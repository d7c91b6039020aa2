/**
 * Memory of the store index per command: N synthetic commands (random ids, mostly one parent, 10 % merges) added to a `CommandIndex`,
 * then `byteSize() / N`; also the worst ratio seen just after a grow. N = 1M (quick: 200k).
 */
import { CommandIndex } from '../agent/store/command-index.js';
import { mulberry32 } from '../testkit/prng.js';
import { QUICK, round } from './util.js';

export async function benchIndexMemory(): Promise<Record<string, number>> {
  const n = QUICK ? 200_000 : 1_000_000;
  const rand = mulberry32(1);
  const ix = new CommandIndex();
  const id = new Uint8Array(32);
  const author = new Uint8Array(8);
  let peak = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    crypto.getRandomValues(id);
    author[0] = i % 16;
    const parents = i === 0 ? [] : rand() < 0.1 && i > 1 ? [i - 1, Math.floor(rand() * (i - 1))] : [i - 1];
    ix.add(id, parents, 180, i * 188, author, i);
    if (i >= 10_000 && (i & 1023) === 0) peak = Math.max(peak, ix.byteSize() / (i + 1));
    if ((i & 0xffff) === 0) await new Promise((r) => setImmediate(r));
  }
  const secs = (performance.now() - t0) / 1000;
  return {
    'index.commands': n,
    'index.bytes_per_command': round(ix.byteSize() / n, 1),
    'index.bytes_per_command_worst': round(peak, 1),
    'index.adds_per_s': Math.round(n / secs),
  };
}
