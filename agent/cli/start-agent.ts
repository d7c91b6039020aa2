/**
 * The library: `startAgent(config)` runs a whole agent in the caller's process — the same one
 * `syncwire agent` and `syncwire gateway` run (they are built on {@link startResolvedAgent}) — and
 * hands back what an application needs: commit, read every command in causal order (resuming from
 * a cursor), status, reload of the trust file, close, and events. The local HTTP API is served as
 * configured (`statusSocket`, `api.listen`), so `syncwire status` and `tail` work against a library
 * agent too.
 */
import { existsSync } from 'node:fs';
import { generateIdentity, toHex } from '../../protocol/keys.js';
import type { Logger } from '../node/log.js';
import { ConfigError, resolveConfig, validate, type ResolvedConfig } from './config.js';
import type { ConfigFile } from './config-schema.js';
import { loadKeyFile, writeKeyFile } from './keys.js';
import { rememberErrors } from './last-error.js';
import { createLogger, type JsonLogger } from './logger.js';
import { RunningAgentV2, type AgentV2 } from './agent-v2.js';
import { startNodeV2 } from './run-node-v2.js';

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

/**
 * Start an agent from a config object.
 * @throws ConfigError (with every problem's JSON path), KeyFileError, DataDirError, LockedError,
 *   StoreOpenError, TransportError; nothing stays open then.
 */
export async function startAgent(config: AgentConfig, options: AgentOptions = {}): Promise<AgentV2> {
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

/** Start an agent from a resolved config (the CLI's path: flags and file already merged). */
export async function startResolvedAgent(cfg: ResolvedConfig, role: 'agent' | 'gateway', baseLog: JsonLogger): Promise<AgentV2> {
  const memo = rememberErrors(baseLog);
  return new RunningAgentV2(await startNodeV2(cfg, role, memo.log, { lastError: memo.last }));
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
