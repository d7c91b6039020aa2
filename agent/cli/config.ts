/**
 * Loading the config: read the JSON file, lay command-line overrides over it, validate the result
 * against the schema (config-schema.ts) and fill in defaults. Errors name the exact JSON path (or
 * the flag that set it) and the expected value:
 *
 * `config.json: /subscriptions/capacity: expected a power of two (1..65536), got 100`
 *
 * A valid config is recognised by a check generated from the schema at build time
 * (config-check.generated.ts), so a running agent never loads TypeBox; only an invalid one loads
 * it (config-problems.ts) to say what is wrong.
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ENGINE_DEFAULTS } from '../sync/engine.js';
import type { Durability } from '../store/command-store.js';
import { parseDurability } from '../store/durability.js';
import { checkConfig } from './config-check.generated.js';
import type { ConfigFile } from './config-schema.js';
import { EXIT } from './exit-codes.js';
import type { LogLevel } from './log-levels.js';

/** A config that cannot be used. Exit status 78 (`EX_CONFIG`): systemd is told not to restart on it. */
export class ConfigError extends Error {
  override readonly name: string = 'ConfigError';
  /** Reason code (in the fatal log line). */
  readonly reason: string = 'BadConfig';
  readonly exitCode = EXIT.config;
}

/** Every setting, defaults applied and paths absolute. */
export interface ResolvedConfig {
  dataDir: string;
  keyFile: string;
  durability: Durability;
  durabilityText: string;
  trust: { mode: 'list' | 'open'; keys: string[] };
  links: string[];
  subscriptions: { capacity: number; maxRemainOpenS: number };
  subscribe: { remainOpenS: number; maxBytes: number } | false;
  pollMaxBytes: number;
  log: { level: LogLevel };
  /** Empty string: no status socket. */
  statusSocket: string;
  mqtt: { username?: string; password?: string; ca?: string; cert?: string; key?: string };
}

/** A value set from the command line or the environment: the JSON path it replaces and who set it. */
export interface Override {
  path: string[];
  value: unknown;
  /** The flag that set it (without `--`). */
  flag: string;
  /** How messages name the source; default `--<flag>` (e.g. `SYNCWIRE_LOG_LEVEL` for the environment). */
  source?: string;
}

/** The environment variable naming the config file when `--config` is not given. */
export const CONFIG_ENV = 'SYNCWIRE_CONFIG';

/**
 * The config file a command uses: its `--config` value, else `$SYNCWIRE_CONFIG` (empty = unset),
 * else none (defaults and flags only). Every command taking `--config` resolves it this way.
 */
export function configFileFor(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flag !== undefined) return flag;
  const v = env[CONFIG_ENV];
  return v === undefined || v === '' ? undefined : v;
}

/** Default data directory (relative to the working directory). */
export const DEFAULT_DATA_DIR = './syncwire-data';

/** The engine's defaults (agent/sync/engine.ts): config and help texts read them from there. */
export { ENGINE_DEFAULTS };

/**
 * Load, override, validate and resolve.
 * @param file config file path, or undefined for defaults plus flags only.
 * @throws ConfigError naming the file or flag, the JSON path and the expected value.
 */
export async function loadConfig(file: string | undefined, overrides: Override[] = []): Promise<ResolvedConfig> {
  const source = file === undefined ? 'defaults' : basename(file);
  let raw: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`${file}: not valid JSON: ${(err as Error).message}`);
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${source}: /: expected a JSON object, got ${show(raw)}`);
  const merged = structuredClone(raw) as Record<string, unknown>;
  const flagOf = new Map<string, string>();
  for (const o of overrides) {
    setPath(merged, o.path, o.value);
    flagOf.set('/' + o.path.join('/'), o.source ?? `--${o.flag}`);
  }
  const problems = await validate(merged);
  if (problems.length > 0) {
    const lines = problems.map((p) => {
      const flag = [...flagOf].find(([path]) => p.path === path || p.path.startsWith(path + '/'))?.[1];
      return `${flag ?? source}: ${p.path || '/'}: ${p.text}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  return resolveConfig(merged as ConfigFile);
}

/** A validation problem: JSON pointer and message. */
export interface Problem {
  path: string;
  text: string;
}

/**
 * Problems of a config object: schema violations with their exact paths, plus the checks a
 * schema cannot express (a power-of-two capacity). Empty when the config is valid.
 */
export async function validate(value: unknown): Promise<Problem[]> {
  const cap = (value as ConfigFile | null)?.subscriptions?.capacity;
  if (checkConfig(value) && (cap === undefined || (cap & (cap - 1)) === 0)) return [];
  return (await import('./config-problems.js')).explainConfig(value);
}

/** Short rendering of a bad value for messages. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const seg of path.slice(0, -1)) {
    const next = cur[seg];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/** Fill in defaults of a validated config. */
export function resolveConfig(c: ConfigFile): ResolvedConfig {
  const dataDir = resolve(c.dataDir ?? DEFAULT_DATA_DIR);
  const durabilityText = c.durability ?? 'always';
  return {
    dataDir,
    keyFile: resolve(c.keyFile ?? join(dataDir, 'key.json')),
    durability: parseDurability(durabilityText),
    durabilityText,
    trust: { mode: c.trust?.mode ?? 'list', keys: (c.trust?.keys ?? []).map((k) => k.toLowerCase()) },
    links: c.links ?? [],
    subscriptions: {
      capacity: c.subscriptions?.capacity ?? ENGINE_DEFAULTS.subscriptionCapacity,
      maxRemainOpenS: c.subscriptions?.maxRemainOpenS ?? ENGINE_DEFAULTS.maxRemainOpenS,
    },
    subscribe: c.subscribe ?? { ...ENGINE_DEFAULTS.subscribe },
    pollMaxBytes: c.pollMaxBytes ?? ENGINE_DEFAULTS.pollMaxBytes,
    log: { level: c.log?.level ?? 'info' },
    statusSocket: c.statusSocket === '' ? '' : resolve(c.statusSocket ?? join(dataDir, 'status.sock')),
    mqtt: { ...c.mqtt },
  };
}
