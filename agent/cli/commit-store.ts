/**
 * `syncwire commit` with no agent running: the store is opened directly (the caller holds the
 * data directory's lock), the commands are signed with the key file, and the store is closed
 * (flushed and fsynced whatever the durability setting). `--stdin` commits every line in this
 * one store session.
 */
import { toHex } from '../../protocol/keys.js';
import type { Durability } from '../store/command-store.js';
import { DiskStore } from '../store/disk-store.js';
import { Engine } from '../sync/engine.js';
import type { Logger } from '../node/log.js';
import { reportLineFailure } from './commit-agent.js';
import { storeOpenFailure } from './data-dir.js';
import { loadKeyFile } from './keys.js';
import type { InputLine } from './line-reader.js';
import { writeOut } from './stdout.js';

/** Where and how to commit offline. */
export interface StoreTarget {
  dataDir: string;
  keyFile: string;
  durability: Durability;
}

/** Open the store and an engine on it, run `fn`, then close both (flush + fsync). */
async function withEngine<T>(t: StoreTarget, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const identity = loadKeyFile(t.keyFile);
  // Repairs made on open (a torn tail cut, damage quarantined) are the operator's business too.
  const line = (fields: object, msg?: string): void => void process.stderr.write(`syncwire commit: ${msg ?? ''} ${JSON.stringify(fields)}\n`);
  const logger: Logger = { debug: line, info: line, warn: line, error: line };
  const store = await DiskStore.open(t.dataDir, { durability: t.durability, logger }).catch((err: unknown) => Promise.reject(storeOpenFailure(err, t.dataDir)));
  try {
    const engine = new Engine({ identity, store });
    try {
      return await fn(engine);
    } finally {
      await engine.close();
    }
  } finally {
    await store.close();
  }
}

/** Commit one payload into the store and print its id. @throws what the store throws (StoreWriteError: exit 75 when full). */
export async function commitOneIntoStore(t: StoreTarget, payload: Uint8Array): Promise<number> {
  const id = await withEngine(t, (engine) => engine.commit(payload));
  await writeOut(toHex(id) + '\n');
  return 0;
}

/**
 * Commit every line into the store, in order, printing each id once it is committed. The first
 * failure stops: reported with its line number; the commits before it are kept (the store is
 * closed, so fsynced, either way); the exit status is the error's (75 for a full disk).
 */
export async function commitLinesIntoStore(t: StoreTarget, lines: AsyncIterable<InputLine>): Promise<number> {
  // Loaded only here: it imports every error class.
  const { exitStatusOf } = await import('./exit-status.js');
  return withEngine(t, async (engine) => {
    let done = 0;
    let lineNo = 0;
    try {
      for await (const line of lines) {
        lineNo = line.lineNo;
        await writeOut(toHex(await engine.commit(line.bytes)) + '\n');
        done++;
      }
      return 0;
    } catch (err) {
      return reportLineFailure(err, lineNo, done, { message: (err as Error).message ?? String(err), status: exitStatusOf(err) });
    }
  });
}
