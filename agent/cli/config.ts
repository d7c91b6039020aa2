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
import { ENGINE_DEFAULTS } from '../sync/engine-settings.js';
import type { Durability } from '../store/command-store.js';
import { parseDurability } from '../store/durability.js';
import { toHex } from '../../protocol/keys.js';
import { readApiToken } from './api-token.js';
import { checkConfig } from './config-check.generated.js';
import { ConfigError } from './config-error.js';
import type { ConfigFile, ScopesFileConfig } from './config-schema.js';
import { SCOPE_NAME_PATTERN } from '../../protocol/constants-v2.js';
import { removedProtocol } from './removed-protocol.js';
import { isRetentionKey } from '../store/retention-policy.js';
import type { LogLevel } from './log-levels.js';
import { readTrustFile } from './trust-file.js';

export { ConfigError };

/** Every setting, defaults applied and paths absolute. */
export interface ResolvedConfig {
  dataDir: string;
  keyFile: string;
  durability: Durability;
  durabilityText: string;
  trust: {
    mode: 'list' | 'open';
    /** Every trusted key at load time, lowercase hex: `trust.keys` ∪ the keys file's, no duplicates. */
    keys: string[];
    /** `trust.keys` alone (what a reload keeps besides the re-read file). */
    configKeys: string[];
    /** Absolute path of `trust.keysFile`, or null. */
    keysFile: string | null;
    /** Labels from the keys file by lowercase hex key (empty without one). */
    labels: Map<string, string>;
  };
  links: string[];
  subscriptions: { capacity: number; maxRemainOpenS: number };
  subscribe: { remainOpenS: number; maxBytes: number } | false;
  pollMaxBytes: number;
  /** Engine setting `elide`: hold covered commands without their signatures (devices). */
  elideSignatures: boolean;
  /** Engine setting `elideSegment`: the segment of our `elide` polls, bytes. */
  elideSegmentBytes: number;
  log: { level: LogLevel };
  /** Empty string: no status socket. */
  statusSocket: string;
  mqtt: { username?: string; password?: string; ca?: string; cert?: string; key?: string };
  /**
   * The HTTP API's TCP listener (docs: README "Local HTTP API"): `listen` null = none (the unix
   * socket only); `token` is the bearer token read from `api.tokenFile` (null without a listener).
   * A secret: redact it wherever a config is printed.
   */
  api: { listen: { host: string; port: number } | null; token: string | null };
  /** Sync protocol: 2, the only one this release speaks (a config asking for 1 is refused). */
  protocol: 2;
  /**
   * `scopes` as written (`{}` when absent).
   * The role defaults (agent / gateway) are applied by scope-config.ts `resolveScopes`.
   */
  scopes: ScopesFileConfig;
}

/** A value set from the command line or the environment: the JSON path it replaces and who set it. */
export interface Override {
  path: string[];
  value: unknown;
  /** The flag that set it (without `--`). */
  flag: string;
  /** How messages name the source; default `--<flag>` (e.g. `SYNCWIRE_LOG_LEVEL` for the environment). */
  source?: string;
  /** Append `value` (an array) to the array at `path` instead of replacing it (`--scope-join`). */
  append?: boolean;
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

/** The engine's defaults (agent/sync/engine-settings.ts): config and help texts read them from there. */
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
    setPath(merged, o.path, o.value, o.append === true);
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
 * schema cannot express ({@link semanticProblems}). Empty when the config is valid.
 */
export async function validate(value: unknown): Promise<Problem[]> {
  if (checkConfig(value) && semanticProblems(value as ConfigFile).length === 0) return [];
  return (await import('./config-problems.js')).explainConfig(value);
}

/**
 * What a schema cannot say about a config that passes it: the capacity is a power of two, the
 * listen port is 1..65535, `api.listen` comes with `api.tokenFile`, protocol 1 is gone, and the `scopes` checks of
 * {@link scopesProblems}.
 */
export function semanticProblems(c: ConfigFile): Problem[] {
  const out: Problem[] = [];
  const cap = c.subscriptions?.capacity;
  if (cap !== undefined && (cap & (cap - 1)) !== 0) out.push({ path: '/subscriptions/capacity', text: `expected a power of two, got ${cap}` });
  const listen = c.api?.listen;
  if (listen !== undefined) {
    if (parseListen(listen) === null) out.push({ path: '/api/listen', text: `expected a port from 1 to 65535, got ${show(listen)}` });
    if (c.api?.tokenFile === undefined) out.push({ path: '/api/tokenFile', text: 'missing; required with /api/listen (every TCP request needs the bearer token it holds)' });
  }
  // The schema takes 1 so that the answer can say why it is gone, not just "expected 2".
  if (c.protocol === 1) out.push({ path: '/protocol', text: removedProtocol('1') });
  out.push(...scopesProblems(c));
  return out;
}

/** `fleet/acme` or `fleet/acme@<64 hex id>`: the name and the pinned id (lowercase), or a problem text. */
export function parseJoinEntry(entry: string): { name: string; id: string | null } | string {
  const at = entry.indexOf('@');
  const name = at < 0 ? entry : entry.slice(0, at);
  if (!SCOPE_NAME_PATTERN.test(name)) return `expected a scope name (1..64 of a-z 0-9 . _ / -, starting with a letter or digit), optionally "@<64 hex id>", got ${show(entry)}`;
  if (at < 0) return { name, id: null };
  const id = entry.slice(at + 1);
  if (!/^[0-9a-fA-F]{64}$/.test(id)) return `the pinned scope id after "@" must be 64 hex chars, got ${show(id)}`;
  return { name, id: id.toLowerCase() };
}

/**
 * The `scopes` checks a schema cannot express: `join` entries are a name
 * or a pinned `name@<64 hex>`; `retention` keys are a name, `prefix/*` or `*`; each `create`
 * entry lists `"self"` with the `a` role (only an admin may sign the genesis's later membership
 * changes, and the node creating it must be one).
 */
function scopesProblems(c: ConfigFile): Problem[] {
  const s = c.scopes;
  if (s === undefined) return [];
  const out: Problem[] = [];
  (s.join ?? []).forEach((entry, i) => {
    const j = parseJoinEntry(entry);
    if (typeof j === 'string') out.push({ path: `/scopes/join/${i}`, text: j });
  });
  for (const key of Object.keys(s.retention ?? {})) {
    if (!isRetentionKey(key)) out.push({ path: `/scopes/retention/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, text: 'expected a scope name, a "prefix/*" pattern or "*" as key' });
  }
  (s.create ?? []).forEach((entry, i) => {
    if (!entry.members.some((m) => m.key === 'self' && m.roles.includes('a'))) {
      out.push({ path: `/scopes/create/${i}/members`, text: `expected a member { "key": "self", "roles": "...a" }: this node creates ${show(entry.name)}, so it must be an admin of it` });
    }
    const keys = entry.members.map((m) => m.key.toLowerCase());
    const dup = keys.find((k, j) => keys.indexOf(k) !== j);
    if (dup !== undefined) out.push({ path: `/scopes/create/${i}/members`, text: `member ${show(dup)} is listed twice` });
    if (s.create!.findIndex((e) => e.name === entry.name) !== i) out.push({ path: `/scopes/create/${i}/name`, text: `scope ${show(entry.name)} is created twice` });
  });
  return out;
}

/**
 * `host:port` or `[v6]:port` as host (brackets removed) and port; null when the text is not
 * of that form or the port is outside 1..65535.
 */
export function parseListen(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^[\]:/\s]+)):([0-9]{1,5})$/.exec(text);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

/** Short rendering of a bad value for messages. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown, append = false): void {
  let cur = obj;
  for (const seg of path.slice(0, -1)) {
    const next = cur[seg];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  const old = cur[last];
  // Appending to something that is not an array replaces it: the schema then judges the value.
  cur[last] = append && Array.isArray(old) && Array.isArray(value) ? [...(old as unknown[]), ...value] : value;
}

/**
 * Fill in defaults of a validated config, and read the files it names whose content is part of
 * the config: `trust.keysFile` (its keys join `trust.keys`) and, with `api.listen`, `api.tokenFile`.
 * @throws ConfigError (a `TrustFileError` for the keys file) naming the file and the problem.
 */
export function resolveConfig(c: ConfigFile): ResolvedConfig {
  const dataDir = resolve(c.dataDir ?? DEFAULT_DATA_DIR);
  const durabilityText = c.durability ?? 'always';
  const configKeys = (c.trust?.keys ?? []).map((k) => k.toLowerCase());
  const keysFile = c.trust?.keysFile === undefined ? null : resolve(c.trust.keysFile);
  const file = keysFile === null ? null : readTrustFile(keysFile);
  const listen = c.api?.listen === undefined ? null : parseListen(c.api.listen);
  if (c.api?.listen !== undefined && (listen === null || c.api.tokenFile === undefined)) {
    // resolveConfig is also called on configs that skipped validate() (tests, library callers).
    throw new ConfigError(semanticProblems(c).map((p) => `${p.path}: ${p.text}`).join('\n'));
  }
  return {
    dataDir,
    keyFile: resolve(c.keyFile ?? join(dataDir, 'key.json')),
    durability: parseDurability(durabilityText),
    durabilityText,
    trust: {
      mode: c.trust?.mode ?? 'list',
      keys: [...new Set([...configKeys, ...(file?.keys ?? []).map(toHex)])],
      configKeys: [...new Set(configKeys)],
      keysFile,
      labels: file?.labels ?? new Map(),
    },
    links: c.links ?? [],
    subscriptions: {
      capacity: c.subscriptions?.capacity ?? ENGINE_DEFAULTS.subscriptionCapacity,
      maxRemainOpenS: c.subscriptions?.maxRemainOpenS ?? ENGINE_DEFAULTS.maxRemainOpenS,
    },
    subscribe: c.subscribe ?? { ...ENGINE_DEFAULTS.subscribe },
    pollMaxBytes: c.pollMaxBytes ?? ENGINE_DEFAULTS.pollMaxBytes,
    elideSignatures: c.elideSignatures ?? false,
    elideSegmentBytes: c.elideSegmentBytes ?? ENGINE_DEFAULTS.elideSegment,
    log: { level: c.log?.level ?? 'info' },
    statusSocket: c.statusSocket === '' ? '' : resolve(c.statusSocket ?? join(dataDir, 'status.sock')),
    mqtt: { ...c.mqtt },
    api: { listen, token: listen === null ? null : readApiToken(resolve(c.api!.tokenFile!)) },
    protocol: 2,
    scopes: structuredClone(c.scopes ?? {}),
  };
}
