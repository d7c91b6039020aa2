/**
 * `syncwire commit`: add one command to an agent's graph.
 *
 * When an agent is running on the data directory (its status socket answers), the command is
 * sent through the socket: the agent signs it with its own key and pushes it to its subscribers
 * at once. Otherwise the store is opened directly (under the data directory's lock, so a running
 * agent without a status socket is detected and refused), the command is signed with the key
 * file and stored durably; peers receive it when an agent next runs.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { fromHex, toHex } from '../../protocol/keys.js';
import { DiskStore } from '../store/disk-store.js';
import { Engine } from '../sync/engine.js';
import { str, UsageError, type Command, type CommandSpec, type Flags, type FlagSpec } from './args.js';
import { loadConfig, type Override } from './config.js';
import { loadKeyFile } from './keys.js';
import { acquireLock, lockHolder, LockedError } from './lock.js';
import { askStatusSocket } from './status-server.js';

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
    'data-dir': { type: 'string', short: 'd', arg: 'DIR', description: 'data directory (default ./syncwire-data)' },
    key: { type: 'string', short: 'k', arg: 'FILE', description: 'key file (default <data-dir>/key.json)' },
    socket: { type: 'string', short: 's', arg: 'PATH', description: 'status socket of a running agent (default from config / data dir)' },
    ...PAYLOAD_FLAGS,
  },
  details: `Prints the new command's id (64 hex chars).

If an agent answers on the status socket, the command goes through it: the agent signs it with
its own key (a --key naming another identity is refused) and pushes it to subscribers at once.
Otherwise the store is opened directly; this is refused while another process holds the data
directory's lock (a running agent whose status socket is disabled).`,
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
  const cfg = await loadConfig(str(flags, 'config'), overrides);

  if (cfg.statusSocket !== '') {
    let status;
    try {
      status = await askStatusSocket(cfg.statusSocket, { op: 'status' });
    } catch {
      status = undefined; // no agent there: commit directly below
    }
    if (status?.ok && status.status) {
      if (keyFlag !== undefined) {
        const mine = loadKeyFile(cfg.keyFile).peerId;
        if (mine !== status.status.peerId) {
          process.stderr.write(`syncwire commit: the running agent signs as ${status.status.peerId}, but --key is ${mine}; stop the agent or drop --key\n`);
          return 1;
        }
      }
      const r = await askStatusSocket(cfg.statusSocket, { op: 'commit', payload: toHex(payload) });
      if (!r.ok || r.id === undefined) {
        process.stderr.write(`syncwire commit: the agent refused: ${r.error ?? 'no id'}\n`);
        return 1;
      }
      process.stdout.write(r.id + '\n');
      return 0;
    }
  }

  const holder = lockHolder(cfg.dataDir);
  if (holder !== undefined) throw new LockedError(cfg.dataDir, holder);
  const identity = loadKeyFile(cfg.keyFile);
  mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  const lock = acquireLock(cfg.dataDir);
  try {
    // close() flushes and fsyncs whatever the durability setting.
    const store = await DiskStore.open(cfg.dataDir, { durability: cfg.durability });
    try {
      const engine = new Engine({ identity, store });
      const id = await engine.commit(payload);
      await engine.close();
      process.stdout.write(toHex(id) + '\n');
    } finally {
      await store.close();
    }
  } finally {
    lock.release();
  }
  return 0;
}

/** The `commit` subcommand. */
export const commitCommand: Command = { spec: commitSpec, run: runCommit };
