/**
 * Crash-test child (run compiled: `node dist/testkit/crash-writer.js <dir> [writers]`).
 * Opens a DiskStore with durability `always` and commits forever from `writers` concurrent
 * loops (default 4, so group commit is exercised); after each `sync()` resolves it prints the
 * committed id in hex on its own line. First line: `open <commands> <truncatedBytes>`.
 * The parent kills it with SIGKILL and checks every printed id survived. Stdout to a pipe is
 * synchronous on Linux, so a printed line was acknowledged before the kill could land.
 * Commands are synthetic (zero signature): the store checks structure, not signatures.
 */
import { randomBytes } from 'node:crypto';
import { MAX_PARENTS } from '../protocol/constants.js';
import { toHex } from '../protocol/keys.js';
import { DiskStore } from '../agent/store/disk-store.js';
import { syntheticCommand } from './synthetic-commands.js';

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: crash-writer <dir> [writers]\n');
  process.exit(2);
}
const writers = Number(process.argv[3] ?? 4);
const store = await DiskStore.open(dir, { durability: { mode: 'always' } });
process.stdout.write(`open ${store.size} ${store.openReport.truncatedBytes}\n`);
let seq = store.size;

async function writer(): Promise<void> {
  for (;;) {
    const heads = store.heads();
    // Mostly merge the heads; sometimes branch off an older command so the DAG has forks.
    const parents =
      store.size > 0 && Math.random() < 0.2
        ? [store.idOf(Math.floor(Math.random() * store.size))]
        : heads.slice(-MAX_PARENTS).map((h) => store.idOf(h).slice());
    const cmd = syntheticCommand(parents, seq++, randomBytes(16 + Math.floor(Math.random() * 200)));
    store.append(cmd);
    await store.sync();
    process.stdout.write(`${toHex(cmd.id)}\n`);
  }
}

await Promise.all(Array.from({ length: writers }, writer));
