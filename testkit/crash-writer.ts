/**
 * Crash-test child (run compiled: `node dist/testkit/crash-writer.js <dir> [writers] [scope|legacy]`).
 * Opens a store with durability `always` and commits forever from `writers` concurrent loops
 * (default 4, so group commit is exercised); after each `sync()` resolves it prints the committed
 * id in hex on its own line. First line: `open <commands> <truncatedBytes>`. The parent kills it
 * with SIGKILL and checks every printed id survived. Stdout to a pipe is synchronous on Linux, so
 * a printed line was acknowledged before the kill could land.
 *
 * `scope`: `<dir>` is one scope directory (a {@link DiskScopeStore} of {@link CRASH_SCOPE}'s
 * genesis, created on the first run). `legacy` (the default, for the chaos harness and the legacy
 * log upgrade test): `<dir>` holds a v1 `commands.log` (DiskStore).
 * Commands are synthetic (zero signature): the stores check structure, not signatures.
 */
import { randomBytes } from 'node:crypto';
import { MAX_PARENTS } from '../protocol/constants.js';
import { toHex } from '../protocol/keys.js';
import { DiskStore } from '../agent/store/disk-store.js';
import { DiskScopeStore } from '../agent/store/scope-store.js';
import { syntheticCommand } from './synthetic-commands.js';
import { CRASH_SCOPE } from './crash-run.js';
import { syntheticCommandV2 } from './synthetic-commands-v2.js';

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: crash-writer <dir> [writers] [scope|legacy]\n');
  process.exit(2);
}
const writers = Number(process.argv[3] ?? 4);
const mode = process.argv[4] ?? 'legacy';

/** What a writer loop needs of either store. */
interface Target {
  size: number;
  truncatedBytes: number;
  /** Append a new command on the heads (sometimes on an older one); returns its id. */
  next(): Uint8Array;
  sync(): Promise<void>;
}

const pickParents = <T>(size: number, heads: number[], at: (h: number) => T): T[] =>
  size > 1 && Math.random() < 0.2 ? [at(1 + Math.floor(Math.random() * (size - 1)))] : heads.slice(-MAX_PARENTS).map(at);

async function open(): Promise<Target> {
  if (mode === 'scope') {
    const s = await DiskScopeStore.open(dir!, { scopeId: CRASH_SCOPE.id, durability: { mode: 'always' } });
    if (s.size === 0) {
      s.appendWritten(CRASH_SCOPE, { frontier: 0 });
      await s.sync();
    }
    let seq = s.size;
    return {
      size: s.size,
      truncatedBytes: s.openReport.truncatedBytes,
      next: () => {
        const parents = pickParents(s.size, s.heads(), (h) => s.idOf(h).slice());
        const cmd = syntheticCommandV2(CRASH_SCOPE.id, parents, seq++, randomBytes(16 + Math.floor(Math.random() * 200)));
        s.append(cmd, { frontier: 0 });
        return cmd.id;
      },
      sync: () => s.sync(),
    };
  }
  const store = await DiskStore.open(dir!, { durability: { mode: 'always' } });
  let seq = store.size;
  return {
    size: store.size,
    truncatedBytes: store.openReport.truncatedBytes,
    next: () => {
      // Mostly merge the heads; sometimes branch off an older command so the DAG has forks.
      const parents = store.size > 0 && Math.random() < 0.2 ? [store.idOf(Math.floor(Math.random() * store.size))] : store.heads().slice(-MAX_PARENTS).map((h) => store.idOf(h).slice());
      const cmd = syntheticCommand(parents, seq++, randomBytes(16 + Math.floor(Math.random() * 200)));
      store.append(cmd);
      return cmd.id;
    },
    sync: () => store.sync(),
  };
}

const target = await open();
process.stdout.write(`open ${target.size} ${target.truncatedBytes}\n`);

async function writer(): Promise<void> {
  for (;;) {
    const id = target.next();
    await target.sync();
    process.stdout.write(`${toHex(id)}\n`);
  }
}

await Promise.all(Array.from({ length: writers }, writer));
