/**
 * Loading the config: read the JSON file, lay command-line overrides over it, validate the result
 * against {@link ConfigFile} (compiled once) and fill in defaults. Errors name the exact JSON path
 * (or the flag that set it) and the expected value:
 *
 * `config.json: /subscriptions/capacity: expected a power of two (1..65536), got 100`
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import type { ValueError } from '@sinclair/typebox/errors';
import { DEFAULT_SUBSCRIPTION_CAPACITY } from '../../protocol/constants.js';
import type { Durability } from '../store/command-store.js';
import { parseDurability } from '../store/durability.js';
import { ConfigFile, LOG_LEVELS } from './config-schema.js';

export { ConfigFile, LOG_LEVELS } from './config-schema.js';

/** A config that cannot be used. Exit status 78 (`EX_CONFIG`): systemd is told not to restart on it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly exitCode = 78;
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
  log: { level: (typeof LOG_LEVELS)[number] };
  /** Empty string: no status socket. */
  statusSocket: string;
  mqtt: { username?: string; password?: string; ca?: string; cert?: string; key?: string };
}

/** A value set from the command line: the JSON path it replaces and the flag that set it. */
export interface Override {
  path: string[];
  value: unknown;
  flag: string;
}

const validator = TypeCompiler.Compile(ConfigFile);

/** Default data directory (relative to the working directory). */
export const DEFAULT_DATA_DIR = './syncwire-data';

/**
 * Load, override, validate and resolve.
 * @param file config file path, or undefined for defaults plus flags only.
 * @throws ConfigError naming the file or flag, the JSON path and the expected value.
 */
export function loadConfig(file: string | undefined, overrides: Override[] = []): ResolvedConfig {
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
    flagOf.set('/' + o.path.join('/'), o.flag);
  }
  const problems = validate(merged);
  if (problems.length > 0) {
    const lines = problems.map((p) => {
      const flag = [...flagOf].find(([path]) => p.path === path || p.path.startsWith(path + '/'))?.[1];
      return `${flag !== undefined ? `--${flag}` : source}: ${p.path || '/'}: ${p.text}`;
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

/** Schema problems of a config object, plus the checks a schema cannot express (power of two). */
export function validate(value: unknown): Problem[] {
  const out: Problem[] = [];
  for (const e of validator.Errors(value)) explain(e, out);
  const cap = (value as ConfigFile).subscriptions?.capacity;
  if (out.length === 0 && cap !== undefined && (cap & (cap - 1)) !== 0) {
    out.push({ path: '/subscriptions/capacity', text: `expected a power of two, got ${cap}` });
  }
  // Dedupe: a union reports once per branch.
  return out.filter((p, i) => out.findIndex((q) => q.path === p.path && q.text === p.text) === i);
}

function explain(e: ValueError, out: Problem[]): void {
  // An object given where "object or false" is allowed: report inside the object branch.
  if (e.errors.length > 0 && typeof e.value === 'object' && e.value !== null && !Array.isArray(e.value)) {
    for (const branch of e.errors) {
      const inner = [...branch];
      if (inner.length > 0 && inner.every((x) => x.path.startsWith(e.path + '/'))) {
        for (const x of inner) explain(x, out);
        return;
      }
    }
  }
  if (e.message === 'Unexpected property') {
    out.push({ path: e.path, text: `unknown field (allowed: ${allowedAt(e.path).join(', ')})` });
    return;
  }
  const expected = (e.schema as TSchema & { expected?: string }).expected ?? e.message.replace(/^Expected /, '');
  out.push({ path: e.path, text: e.value === undefined ? `missing; expected ${expected}` : `expected ${expected}, got ${show(e.value)}` });
}

/** Field names allowed in the object holding `path` (for "unknown field" messages). */
function allowedAt(path: string): string[] {
  let schema: TSchema = ConfigFile;
  for (const seg of path.split('/').slice(1, -1)) {
    const next: TSchema | undefined = schema.properties?.[seg] ?? schema.anyOf?.find((s: TSchema) => s.properties)?.properties?.[seg];
    if (next === undefined) return [];
    schema = next.anyOf?.find((s: TSchema) => s.properties) ?? next;
  }
  return Object.keys(schema.properties ?? {});
}

/** Short rendering of a bad value for messages. */
function show(v: unknown): string {
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
      capacity: c.subscriptions?.capacity ?? DEFAULT_SUBSCRIPTION_CAPACITY,
      maxRemainOpenS: c.subscriptions?.maxRemainOpenS ?? 900,
    },
    subscribe: c.subscribe ?? { remainOpenS: 600, maxBytes: 1 << 20 },
    pollMaxBytes: c.pollMaxBytes ?? 65536,
    log: { level: c.log?.level ?? 'info' },
    statusSocket: c.statusSocket === '' ? '' : resolve(c.statusSocket ?? join(dataDir, 'status.sock')),
    mqtt: { ...c.mqtt },
  };
}
