/**
 * The library: `startAgent(config)` runs a whole agent in the caller's process — the same one
 * `syncwire agent` and `syncwire gateway` run (they are built on {@link startResolvedAgent}) — and
 * hands back what an application needs: commit, read every command in causal order (resuming from
 * a cursor), status, reload of the trust file, close, and events. The local HTTP API is served as
 * configured (`statusSocket`, `api.listen`), so `syncwire status` and `tail` work against a library
 * agent too.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { generateIdentity, toHex } from '../../protocol/keys.js';
import { commandEntry, commandsFrom, cursorOf, type CommandEntry, type FeedOptions } from '../api/command-feed.js';
import { showCommandJson } from '../api/commands-stream.js';
import type { Logger } from '../node/log.js';
import type { PeerRejected } from '../sync/engine.js';
import { ConfigError, resolveConfig, validate, type ResolvedConfig } from './config.js';
import type { ConfigFile } from './config-schema.js';
import { loadKeyFile, writeKeyFile } from './keys.js';
import { rememberErrors } from './last-error.js';
import { createLogger, type JsonLogger } from './logger.js';
import { startNode, type RunningNode } from './run-node.js';
import { RunningAgentV2, type AgentV2 } from './agent-v2.js';
import { startNodeV2 } from './run-node-v2.js';
import type { Snapshot } from './snapshot.js';
import type { TrustReload } from './trust-reload.js';

/** The config object: the same keys as the JSON config file (README "Configuration"). */
export type AgentConfig = ConfigFile;

/** Options of {@link startAgent}. */
export interface AgentOptions {
  /** How status names this process. Default `'agent'`. */
  role?: 'agent' | 'gateway';
  /**
   * Where the agent logs (any pino-shaped logger: `debug/info/warn/error(fields, msg)`; `child`
   * is used when present). Default: JSON lines on stderr at the config's `log.level` (default info).
   */
  logger?: Logger & { child?(bindings: object): Logger };
}

/** What a commit answers. */
export interface Committed {
  /** Command id, 64 lowercase hex. */
  id: string;
  /** Resume a {@link Agent.commands} iteration after this command. */
  cursor: string;
}

/** Events of an {@link Agent}. */
export interface AgentEvents {
  /** A command was added to the graph (a local commit or from a peer). Entries are built only while someone listens. */
  command: [entry: CommandEntry, from: string];
  /** A peer authenticated. */
  'peer-up': [peerId: string];
  /** A peer's link closed. */
  'peer-down': [peerId: string];
  /** A handshake was refused for trust: the full public key and the link it came over. */
  'peer-rejected': [info: PeerRejected];
}

/** A running agent. */
export interface Agent extends EventEmitter<AgentEvents> {
  /** This agent's peer id (16 hex). */
  readonly peerId: string;
  /** This agent's public key (64 hex): what peers put in their trust list. */
  readonly publicKey: string;
  /**
   * Commit one command: bytes as they are, a string as UTF-8, anything else as its JSON text.
   * Resolves once the store's durability setting is met.
   * @throws StoreWriteError (reason `disk-full` on a full disk: nothing was stored), TooLargeError
   *   for a payload over the command size limit, Error after close.
   */
  commit(payload: Uint8Array | string | object | number | boolean | null): Promise<Committed>;
  /**
   * Every command in causal order (parents first), from the start or after `opts.after` (a cursor
   * from an earlier entry, or `'end'`), as entries with a cursor each. With `follow`, waits for new
   * commands until `opts.signal` aborts. A consumer that stores each cursor after acting on the
   * entry and resumes from it after a restart sees every command exactly once, in order.
   * @throws CursorError (reason `cursor_syntax` or `cursor_unknown`) at the call for a bad cursor.
   */
  commands(opts?: FeedOptions): AsyncIterable<CommandEntry>;
  /** One command by id (64 hex), or null when this agent does not hold it. */
  command(idHex: string): CommandEntry | null;
  /** The status snapshot (what `GET /v1/status` answers). */
  status(): Snapshot;
  /**
   * Re-read `trust.keysFile` and apply it: removed peers are disconnected, others stay linked.
   * @throws TrustFileError on a bad file (the trust in force is unchanged).
   */
  reload(): TrustReload;
  /** Whether the event loop runs freely (the systemd watchdog follows this). */
  healthy(): boolean;
  /** Stop: API, links, engine, store (flushed and synced), lock. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start an agent from a config object.
 * @throws ConfigError (with every problem's JSON path), KeyFileError, DataDirError, LockedError,
 *   StoreOpenError, TransportError; nothing stays open then.
 */
export async function startAgent(config: AgentConfig & { protocol: 1 }, options?: AgentOptions): Promise<Agent>;
export async function startAgent(config: AgentConfig & { protocol?: 2 }, options?: AgentOptions): Promise<AgentV2>;
export async function startAgent(config: AgentConfig, options?: AgentOptions): Promise<Agent | AgentV2>;
export async function startAgent(config: AgentConfig, options: AgentOptions = {}): Promise<Agent | AgentV2> {
  const problems = await validate(config);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `config: ${p.path || '/'}: ${p.text}`).join('\n'));
  const cfg = resolveConfig(config);
  const log = options.logger ? asJsonLogger(options.logger) : createLogger(cfg.log.level, `syncwire-${options.role ?? 'agent'}`);
  return startResolvedAgent(cfg, options.role ?? 'agent', log);
}

/**
 * The key file at `path`, created (mode 0600, a fresh ed25519 identity) when there is none; what
 * an application calls once before its first {@link startAgent} (`syncwire keygen` does the same).
 * @returns the identity's peer id and public key (never the secret), and whether it was created.
 * @throws KeyFileError when a file exists but is not a usable key file (loose mode, bad JSON).
 */
export function ensureKeyFile(path: string): { peerId: string; publicKey: string; created: boolean } {
  const created = !existsSync(path);
  if (created) writeKeyFile(path, generateIdentity());
  const id = loadKeyFile(path);
  return { peerId: id.peerId, publicKey: toHex(id.publicKey), created };
}

/**
 * Start an agent from a resolved config (the CLI's path: flags and file already merged): the
 * scoped {@link AgentV2} (protocol 2, the default), or with `protocol: 1` the v1 {@link Agent}.
 */
export async function startResolvedAgent(cfg: ResolvedConfig & { protocol: 1 }, role: 'agent' | 'gateway', baseLog: JsonLogger): Promise<Agent>;
export async function startResolvedAgent(cfg: ResolvedConfig & { protocol?: 2 }, role: 'agent' | 'gateway', baseLog: JsonLogger): Promise<AgentV2>;
export async function startResolvedAgent(cfg: ResolvedConfig, role: 'agent' | 'gateway', baseLog: JsonLogger): Promise<Agent | AgentV2>;
export async function startResolvedAgent(cfg: ResolvedConfig, role: 'agent' | 'gateway', baseLog: JsonLogger): Promise<Agent | AgentV2> {
  const memo = rememberErrors(baseLog);
  if (cfg.protocol === 2) return new RunningAgentV2(await startNodeV2(cfg, role, memo.log, { lastError: memo.last }));
  const node = await startNode(cfg, role, memo.log, { lastError: memo.last });
  return new RunningAgent(node);
}

class RunningAgent extends EventEmitter<AgentEvents> implements Agent {
  readonly peerId: string;
  readonly publicKey: string;

  constructor(private readonly node: RunningNode) {
    super();
    const e = node.engine;
    this.peerId = e.peerId;
    this.publicKey = toHex(e.identity.publicKey);
    e.on('commands', (handles, from) => {
      if (this.listenerCount('command') === 0) return;
      for (const h of handles) this.emit('command', commandEntry(e.store, h), from);
    });
    e.on('peer-up', (p) => this.emit('peer-up', p));
    e.on('peer-down', (p) => this.emit('peer-down', p));
    e.on('peer-rejected', (info) => this.emit('peer-rejected', info));
  }

  async commit(payload: Uint8Array | string | object | number | boolean | null): Promise<Committed> {
    const bytes =
      payload instanceof Uint8Array ? payload : new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const id = await this.node.engine.commit(bytes);
    return { id: toHex(id), cursor: cursorOf(this.node.engine.store, id) };
  }

  commands(opts: FeedOptions = {}): AsyncIterable<CommandEntry> {
    return commandsFrom(this.node.feed, opts);
  }

  command(idHex: string): CommandEntry | null {
    return showCommandJson(this.node.engine.store, idHex);
  }

  status(): Snapshot {
    return this.node.snapshot();
  }

  reload(): TrustReload {
    return this.node.reload();
  }

  healthy(): boolean {
    return this.node.healthy();
  }

  close(): Promise<void> {
    return this.node.close();
  }
}

/** A caller's pino-shaped logger as the agent's JsonLogger (trace → debug, fatal → error). */
function asJsonLogger(l: Logger & { child?(bindings: object): Logger }): JsonLogger {
  return {
    trace: (f, m) => l.debug(f, m),
    debug: (f, m) => l.debug(f, m),
    info: (f, m) => l.info(f, m),
    warn: (f, m) => l.warn(f, m),
    error: (f, m) => l.error(f, m),
    fatal: (f, m) => l.error(f, m),
    child: (bindings) => asJsonLogger(l.child ? l.child(bindings) : withBindings(l, bindings)),
  };
}

/** A logger that adds `bindings` to every line's fields (for loggers without `child`). */
function withBindings(l: Logger, bindings: object): Logger {
  return {
    debug: (f, m) => l.debug({ ...bindings, ...f }, m),
    info: (f, m) => l.info({ ...bindings, ...f }, m),
    warn: (f, m) => l.warn({ ...bindings, ...f }, m),
    error: (f, m) => l.error({ ...bindings, ...f }, m),
  };
}
