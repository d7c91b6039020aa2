/**
 * `syncwire commit`: add one command to an agent's graph.
 *
 * When an agent is running on the data directory (its status socket answers), the command is
 * sent through the socket: the agent signs it with its own key and pushes it to its subscribers
 * at once. Otherwise the store is opened directly under the data directory's lock (lock.ts: the
 * same kernel-held lock an agent takes, so a direct commit never writes beside an agent or another
 * commit), the command is signed with the key file and stored durably; peers receive it when an
 * agent next runs. A lock held by another commit or by an agent still starting is waited for (up
 * to 10 s); an agent that serves no status socket is refused at once (exit 78). A full disk
 * refuses the commit (exit 75) and stores nothing.
 */
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '../../protocol/keys.js';
import { DiskStore } from '../store/disk-store.js';
import { Engine } from '../sync/engine.js';
import type { Logger } from '../node/log.js';
import { str, UsageError, type Command, type CommandSpec, type Flags, type FlagSpec } from './args.js';
import { configFileFor, DEFAULT_DATA_DIR, loadConfig, type Override } from './config.js';
import { loadKeyFile } from './keys.js';
import type { Durability } from '../store/command-store.js';
import { StoreWriteError } from '../store/write-error.js';
import { prepareDataDir, storeOpenFailure } from './data-dir.js';
import { EXIT } from './exit-codes.js';
import { acquireLock, LockedError } from './lock.js';
import { assertPrivateDir } from './path-safety.js';
import { askStatusSocket } from './status-server.js';

/** How long a commit waits for a data directory locked by another commit or a starting agent. */
const LOCK_WAIT_MS = 10_000;

const PAYLOAD_FLAGS: Record<string, FlagSpec> = {
  text: { type: 'string', short: 't', arg: 'TEXT', description: 'payload: this text, UTF-8' },
  hex: { type: 'string', arg: 'HEX', description: 'payload: these bytes, in hex' },
  file: { type: 'string', arg: 'FILE', description: 'payload: the bytes of this file' },
};

/** `syncwire commit`. */
export const commitSpec: CommandSpec = {
  name: 'commit',
  summary: 'commit one command (through a running agent, or straight into its store)',
  usage: 'syncwire commit [--config FILE | --data-dir DIR] [--key FILE] (--text TEXT | --hex HEX | --file FILE)',
  flags: {
    config: { type: 'string', short: 'c', arg: 'FILE', description: 'the agent config (dataDir, keyFile, durability, statusSocket)' },
    'data-dir': { type: 'string', short: 'd', arg: 'DIR', description: `data directory (default ${DEFAULT_DATA_DIR})` },
    key: { type: 'string', short: 'k', arg: 'FILE', description: 'key file (default <data-dir>/key.json)' },
    socket: { type: 'string', short: 's', arg: 'PATH', description: 'status socket of a running agent (default from config / data dir)' },
    ...PAYLOAD_FLAGS,
  },
  details: `Prints the new command's id (64 hex chars).

If an agent answers on the status socket, the command goes through it: the agent signs it with
its own key (a --key naming another identity is refused) and pushes it to subscribers at once.
Otherwise the store is opened directly, under the data directory's lock; a lock held by another
commit, or by an agent whose status socket is not up yet, is waited for (up to 10 s). Refused
while an agent without a status socket holds the lock (exit 78). A full disk stores nothing and
exits 75 (try again later); the running agent stays up and takes commits once space returns.`,
};

/** The payload the flags name. @throws UsageError unless exactly one payload flag is given. */
export function payloadFromFlags(flags: Flags): Uint8Array {
  const given = Object.keys(PAYLOAD_FLAGS).filter((k) => flags[k] !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --text, --hex, --file', 'commit');
  const text = str(flags, 'text');
  if (text !== undefined) return new TextEncoder().encode(text);
  const hex = str(flags, 'hex');
  if (hex !== undefined) {
    try {
      return fromHex(hex.replace(/^0x/, ''));
    } catch {
      throw new UsageError(`--hex: expected an even number of hex digits, got ${JSON.stringify(hex.slice(0, 20))}`, 'commit');
    }
  }
  return new Uint8Array(readFileSync(str(flags, 'file')!));
}

async function runCommit(flags: Flags): Promise<number> {
  const payload = payloadFromFlags(flags);
  const overrides: Override[] = [];
  const dataDir = str(flags, 'data-dir');
  if (dataDir !== undefined) overrides.push({ path: ['dataDir'], value: dataDir, flag: 'data-dir' });
  const keyFlag = str(flags, 'key');
  if (keyFlag !== undefined) overrides.push({ path: ['keyFile'], value: keyFlag, flag: 'key' });
  const socket = str(flags, 'socket');
  if (socket !== undefined) overrides.push({ path: ['statusSocket'], value: socket, flag: 'socket' });
  const cfg = await loadConfig(configFileFor(str(flags, 'config')), overrides);

  // Until the deadline: through a running agent's socket, else straight into the store under the
  // data directory's lock. A lock held by another `commit`, or by an agent still starting (its
  // socket not up yet), is waited out; an agent that serves no socket is refused at once.
  const deadline = Date.now() + LOCK_WAIT_MS;
  let socketPath = cfg.statusSocket;
  for (;;) {
    if (socketPath !== '') {
      const code = await commitThroughAgent(socketPath, payload, keyFlag !== undefined ? cfg.keyFile : undefined);
      if (code !== undefined) return code;
    }
    assertPrivateDir(cfg.dataDir);
    if (prepareDataDir(cfg.dataDir) === 'full') throw new StoreWriteError('disk-full', 'ENOSPC', `data directory ${cfg.dataDir}: the disk is full; the command was not stored`);
    let lock;
    try {
      lock = await acquireLock(cfg.dataDir, { role: 'commit' });
    } catch (err) {
      if (!(err instanceof LockedError)) throw err;
      const long = err.holder?.role === 'agent' || err.holder?.role === 'gateway';
      if (long && err.holder?.statusSocket === undefined) throw err; // no socket to commit through
      if (Date.now() >= deadline) throw err;
      if (err.holder?.statusSocket !== undefined) socketPath = err.holder.statusSocket;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      process.stdout.write(toHex(await commitIntoStore(cfg.dataDir, cfg.keyFile, cfg.durability, payload)) + '\n');
      return 0;
    } finally {
      await lock.release();
    }
  }
}

/** Commit through the agent at `socketPath`; undefined when no agent answers there. */
async function commitThroughAgent(socketPath: string, payload: Uint8Array, keyFile: string | undefined): Promise<number | undefined> {
  let status;
  try {
    status = await askStatusSocket(socketPath, { op: 'status' });
  } catch {
    return undefined; // no agent there
  }
  if (!status.ok || !status.status) return undefined;
  if (keyFile !== undefined) {
    const mine = loadKeyFile(keyFile).peerId;
    if (mine !== status.status.peerId) {
      process.stderr.write(`syncwire commit: the running agent signs as ${status.status.peerId}, but --key is ${mine}; stop the agent or drop --key\n`);
      return 1;
    }
  }
  const r = await askStatusSocket(socketPath, { op: 'commit', payload: toHex(payload) });
  if (!r.ok || r.id === undefined) {
    process.stderr.write(`syncwire commit: the agent refused: ${r.error ?? 'no id'}\n`);
    // A full disk passes: 75 tells a script (or systemd) to try again later.
    return r.reason === 'disk-full' ? EXIT.tempFail : EXIT.failure;
  }
  process.stdout.write(r.id + '\n');
  return 0;
}

/** Open the store (the caller holds the lock), commit, flush, fsync and close. */
async function commitIntoStore(dataDir: string, keyFile: string, durability: Durability, payload: Uint8Array): Promise<Uint8Array> {
  const identity = loadKeyFile(keyFile);
  // close() flushes and fsyncs whatever the durability setting.
  // Repairs made on open (a torn tail cut, damage quarantined) are the operator's business too.
  const line = (fields: object, msg?: string): void => void process.stderr.write(`syncwire commit: ${msg ?? ''} ${JSON.stringify(fields)}\n`);
  const logger: Logger = { debug: line, info: line, warn: line, error: line };
  const store = await DiskStore.open(dataDir, { durability, logger }).catch((err: unknown) => Promise.reject(storeOpenFailure(err, dataDir)));
  try {
    const engine = new Engine({ identity, store });
    const id = await engine.commit(payload);
    await engine.close();
    return id;
  } finally {
    await store.close();
  }
}

/** The `commit` subcommand. */
export const commitCommand: Command = { spec: commitSpec, run: runCommit };
