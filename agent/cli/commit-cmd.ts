/**
 * `syncwire commit`: add commands to an agent's graph — one (`--text`, `--hex`, `--file`) or one
 * per input line (`--stdin`).
 *
 * When an agent is running (its API answers on the status socket, or at `--url`), the commands
 * go through it (commit-agent.ts): the agent signs them with its own key and pushes them to its
 * subscribers at once. Otherwise the store is opened directly under the data directory's lock
 * (commit-store-v2.ts; lock.ts: the same kernel-held lock an agent takes, so a direct commit never
 * writes beside an agent or another commit), the commands are signed with the key file and
 * stored durably; peers receive them when an agent next runs. A lock held by another commit or
 * by an agent still starting is waited for (up to 10 s); an agent that serves no status socket
 * is refused at once (exit 78). A full disk refuses the commit (exit 75) and stores nothing.
 * With `--url` there is no offline path: no agent there is exit 1.
 *
 * The command goes to the scope `--scope` names, else `scopes.default`, else the only scope held
 * — of the running agent (commit-agent.ts), or offline of the data directory's scope stores
 * (commit-store-v2.ts, under the same lock).
 */
import { readFileSync } from 'node:fs';
import { describeTarget, type ApiTarget } from '../api/api-client.js';
import { fromHex } from '../../protocol/keys.js';
import { StoreWriteError } from '../store/write-error.js';
import { str, UsageError, type Command, type CommandSpec, type Flags, type FlagSpec } from './args.js';
import { apiFailure, TARGET_FLAGS, urlTargetFromFlags } from './api-target.js';
import { agentPeerId, commitLinesThroughAgent, commitOneThroughAgent } from './commit-agent.js';
import { commitLinesIntoScope, commitOneIntoScope } from './commit-store-v2.js';
import { configFileFor, DEFAULT_DATA_DIR, loadConfig, type Override } from './config.js';
import { prepareDataDir } from './data-dir.js';
import { loadKeyFile } from './keys.js';
import { readLines, type InputLine } from './line-reader.js';
import { acquireLock, LockedError } from './lock.js';
import { assertPrivateDir } from './path-safety.js';

/** How long a commit waits for a data directory locked by another commit or a starting agent. */
const LOCK_WAIT_MS = 10_000;

/**
 * Longest input line `--stdin` reads (64 KiB): far above what one command may carry (the agent
 * or the store refuses an oversized payload with its own message), and a bound on memory.
 */
export const MAX_STDIN_LINE = 65536;

const PAYLOAD_FLAGS: Record<string, FlagSpec> = {
  text: { type: 'string', short: 't', arg: 'TEXT', description: 'payload: this text, UTF-8' },
  hex: { type: 'string', arg: 'HEX', description: 'payload: these bytes, in hex' },
  file: { type: 'string', arg: 'FILE', description: 'payload: the bytes of this file' },
  stdin: { type: 'boolean', description: 'one command per line of stdin (line ending stripped, empty lines skipped)' },
};

/** `syncwire commit`. */
export const commitSpec: CommandSpec = {
  name: 'commit',
  summary: 'commit commands (through a running agent, or straight into its store)',
  usage: 'syncwire commit [--config FILE | --data-dir DIR | --socket PATH | --url URL --token-file FILE] [--key FILE] [--scope NAME] (--text TEXT | --hex HEX | --file FILE | --stdin)',
  flags: {
    config: { type: 'string', short: 'c', arg: 'FILE', description: 'the agent config (dataDir, keyFile, durability, statusSocket; default $SYNCWIRE_CONFIG)' },
    'data-dir': { type: 'string', short: 'd', arg: 'DIR', description: `data directory (default ${DEFAULT_DATA_DIR})` },
    key: { type: 'string', short: 'k', arg: 'FILE', description: 'key file (default <data-dir>/key.json)' },
    socket: { type: 'string', short: 's', arg: 'PATH', description: 'API socket of a running agent (default: config statusSocket, else <data-dir>/status.sock)' },
    url: TARGET_FLAGS.url!,
    'token-file': TARGET_FLAGS['token-file']!,
    scope: { type: 'string', arg: 'NAME', description: 'the scope to commit to, a name or 64-hex id (default: the agent\'s scopes.default, else its only scope)' },
    ...PAYLOAD_FLAGS,
  },
  details: `Prints the new command's id (64 hex chars); with --stdin one id per committed line, in
line order. With --scope NAME the commands go to that scope; without it to scopes.default,
else the only scope held (else a usage error, exit 2). An unknown scope is refused (exit 1), as
is legacy/v1 (read-only). A line's payload is its bytes as read (UTF-8 text or JSON; sent to the
agent as application/json when it parses as JSON, else as text/plain).

If an agent answers on its API socket (or at --url), the commands go through it: the agent
signs them with its own key (a --key naming another identity is refused) and pushes them to
subscribers at once. Otherwise the scope stores are opened directly, under the data directory's
lock (a v1 commands.log is moved to legacy/v1 and the config's scopes.create made first, as an
agent does at start), and --stdin commits every line in that one session; a lock held by
another commit, or by an
agent whose socket is not up yet, is waited for (up to 10 s). Refused while an agent without a
status socket holds the lock (exit 78). With --url there is no offline path (no agent: exit 1).

A failure stops at the line it happened on: "line N failed" on stderr, every line before it stays
committed, and the exit status says why: 75 try again later (disk full, agent closing), 1 any
other refusal or a line longer than ${MAX_STDIN_LINE} bytes. A full disk stores nothing of the failed
line; the running agent stays up and takes commits once space returns.`,
};

/**
 * The payload the flags name, or 'stdin' for `--stdin`.
 * @throws UsageError unless exactly one payload flag is given.
 */
export function payloadFromFlags(flags: Flags): Uint8Array | 'stdin' {
  const given = Object.keys(PAYLOAD_FLAGS).filter((k) => flags[k] !== undefined && flags[k] !== false);
  if (given.length !== 1) throw new UsageError('give exactly one of --text, --hex, --file, --stdin', 'commit');
  if (flags.stdin === true) return 'stdin';
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

/** The non-empty lines of stdin, read lazily (only once a commit path is chosen). */
function stdinLines(): AsyncIterable<InputLine> {
  return readLines(process.stdin, MAX_STDIN_LINE);
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
  const url = urlTargetFromFlags(flags, 'commit');
  const scope = str(flags, 'scope');
  if (scope === '') throw new UsageError('--scope: give a scope name or a 64-hex scope id', 'commit');
  const cfg = await loadConfig(configFileFor(str(flags, 'config')), overrides);
  const keyFile = keyFlag !== undefined ? cfg.keyFile : undefined;

  if (url !== undefined) {
    const code = await commitThroughAgent(url, payload, keyFile, scope);
    if (code !== undefined) return code;
    process.stderr.write(`syncwire commit: ${describeTarget(url)}: no agent is running there\n`);
    return 1;
  }

  // Until the deadline: through a running agent's socket, else straight into the store under the
  // data directory's lock. A lock held by another `commit`, or by an agent still starting (its
  // socket not up yet), is waited out; an agent that serves no socket is refused at once.
  const deadline = Date.now() + LOCK_WAIT_MS;
  let socketPath = cfg.statusSocket;
  for (;;) {
    if (socketPath !== '') {
      const code = await commitThroughAgent({ socketPath }, payload, keyFile, scope);
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
      const target = { cfg, scope };
      return payload === 'stdin' ? await commitLinesIntoScope(target, stdinLines()) : await commitOneIntoScope(target, payload);
    } finally {
      await lock.release();
    }
  }
}

/**
 * Commit through the agent at `target` (to `scope`, else its default); undefined when no agent
 * answers there. With `keyFile` (an explicit --key), refuses unless the agent signs as that identity.
 */
async function commitThroughAgent(target: ApiTarget, payload: Uint8Array | 'stdin', keyFile: string | undefined, scope: string | undefined): Promise<number | undefined> {
  let peerId: string | undefined;
  try {
    peerId = await agentPeerId(target);
  } catch (err) {
    const f = apiFailure(err, target);
    process.stderr.write(`syncwire commit: ${f.message}\n`);
    return f.status;
  }
  if (peerId === undefined) return undefined;
  if (keyFile !== undefined) {
    const mine = loadKeyFile(keyFile).peerId;
    if (mine !== peerId) {
      process.stderr.write(`syncwire commit: the running agent signs as ${peerId}, but --key is ${mine}; stop the agent or drop --key\n`);
      return 1;
    }
  }
  return payload === 'stdin' ? commitLinesThroughAgent(target, stdinLines(), scope) : commitOneThroughAgent(target, payload, scope);
}

/** The `commit` subcommand. */
export const commitCommand: Command = { spec: commitSpec, run: runCommit };
