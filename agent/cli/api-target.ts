/**
 * How a CLI command finds the agent's local HTTP API — one rule for `status`, `commit`, `tail`
 * and `show`:
 *
 * - `--url http://host:port` (the agent's `api.listen`) with a bearer token read from
 *   `--token-file FILE`, else from the file named by `$SYNCWIRE_API_TOKEN_FILE`;
 * - else the unix socket: `--socket PATH`, else the config's `statusSocket` (`--config` or
 *   `$SYNCWIRE_CONFIG`), else `<data-dir>/status.sock` (`--data-dir`, default ./syncwire-data).
 *
 * The token file is read as the agent reads its own (api-token.ts: owned by this user or root,
 * no group/other access, at least 16 visible ASCII characters once trimmed).
 */
import { join, resolve } from 'node:path';
import { ApiAnswerError, ApiUnavailableError, describeTarget, type ApiTarget } from '../api/api-client.js';
import { readApiToken } from './api-token.js';
import { str, UsageError, type Flags, type FlagSpec } from './args.js';
import { ConfigError, configFileFor, DEFAULT_DATA_DIR, loadConfig } from './config.js';
import { EXIT } from './exit-codes.js';

/** Environment variable naming the token file when `--token-file` is absent (empty = unset). */
export const TOKEN_FILE_ENV = 'SYNCWIRE_API_TOKEN_FILE';

/** The flags every API client command takes. */
export const TARGET_FLAGS: Record<string, FlagSpec> = {
  socket: { type: 'string', short: 's', arg: 'PATH', description: "the agent's API socket (default: config statusSocket, else <data-dir>/status.sock)" },
  config: { type: 'string', short: 'c', arg: 'FILE', description: 'read statusSocket / dataDir from this config (default $SYNCWIRE_CONFIG)' },
  'data-dir': { type: 'string', short: 'd', arg: 'DIR', description: `data directory of the agent (default ${DEFAULT_DATA_DIR})` },
  url: { type: 'string', arg: 'URL', description: "the agent's TCP API instead, http://host:port (config api.listen); needs a token file" },
  'token-file': { type: 'string', arg: 'FILE', description: `bearer token for --url (default $${TOKEN_FILE_ENV}); mode 0600` },
};

/**
 * The TCP target the flags name, or undefined when `--url` is absent.
 * @throws UsageError for `--url` with `--socket`, a URL that is not `http://host[:port]`, a
 *   `--token-file` without `--url`, or `--url` with no token file at all.
 * @throws ConfigError (exit 78) from the token file: see api-token.ts `readApiToken`.
 */
export function urlTargetFromFlags(flags: Flags, command: string, env: NodeJS.ProcessEnv = process.env): ApiTarget | undefined {
  const url = str(flags, 'url');
  const tokenFlag = str(flags, 'token-file');
  if (url === undefined) {
    if (tokenFlag !== undefined) throw new UsageError('--token-file is for --url (the unix socket needs no token)', command);
    return undefined;
  }
  if (str(flags, 'socket') !== undefined) throw new UsageError('give --url or --socket, not both', command);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--url: expected http://host:port, got ${JSON.stringify(url)}`, command);
  }
  if (u.protocol !== 'http:' || u.username !== '' || u.password !== '' || (u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') {
    throw new UsageError(`--url: expected http://host:port (no path, credentials or query), got ${JSON.stringify(url)}`, command);
  }
  const envFile = env[TOKEN_FILE_ENV];
  const tokenFile = tokenFlag ?? (envFile === undefined || envFile === '' ? undefined : envFile);
  if (tokenFile === undefined) throw new UsageError(`--url needs the bearer token: --token-file FILE or $${TOKEN_FILE_ENV}`, command);
  return { url: `http://${u.host}`, token: readApiToken(resolve(tokenFile)) };
}

/** The socket path the flags name. @throws ConfigError from a bad `--config`, or a disabled socket. */
export async function socketFromFlags(flags: Flags, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const s = str(flags, 'socket');
  if (s !== undefined) return resolve(s);
  const cfgFile = configFileFor(str(flags, 'config'), env);
  const dataDir = str(flags, 'data-dir');
  if (cfgFile !== undefined) {
    const cfg = await loadConfig(cfgFile, dataDir !== undefined ? [{ path: ['dataDir'], value: dataDir, flag: 'data-dir' }] : []);
    if (cfg.statusSocket === '') throw new ConfigError(`${cfgFile}: /statusSocket: the status socket is disabled (""); use --url`);
    return cfg.statusSocket;
  }
  return resolve(join(dataDir ?? DEFAULT_DATA_DIR, 'status.sock'));
}

/** The target the flags name ({@link urlTargetFromFlags}, else the socket of {@link socketFromFlags}). */
export async function apiTargetFromFlags(flags: Flags, command: string, env: NodeJS.ProcessEnv = process.env): Promise<ApiTarget> {
  return urlTargetFromFlags(flags, command, env) ?? { socketPath: await socketFromFlags(flags, env) };
}

/**
 * The one line a command prints when the API call failed, and the exit status it ends with:
 * no agent → 1 ("no agent is running there"); `disk_full`, `retention_full`, `closing`, `not_ready` → 75 (try again
 * later); `unauthorized` → 78 (the token file is wrong: a config problem); other answers → 1.
 * Anything else (a timeout, a connection reset) → 1 with its message.
 */
export function apiFailure(err: unknown, target: ApiTarget): { message: string; status: number } {
  const where = describeTarget(target);
  if (err instanceof ApiUnavailableError) return { message: `${where}: no agent is running there (${err.code})`, status: EXIT.failure };
  if (err instanceof ApiAnswerError) {
    const status = err.reason === 'disk_full' || err.reason === 'retention_full' || err.reason === 'closing' || err.reason === 'not_ready' ? EXIT.tempFail : err.reason === 'unauthorized' ? EXIT.config : EXIT.failure;
    return { message: `${where}: ${err.reason}: ${err.message}`, status };
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || code === 'EPIPE') return { message: `${where}: the connection to the agent broke (${code})`, status: EXIT.failure };
  return { message: `${where}: ${(err as Error).message ?? String(err)}`, status: EXIT.failure };
}
