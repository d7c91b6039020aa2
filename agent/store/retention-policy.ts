/**
 * Retention policy of a scope at this host (docs/design/v2-scopes.md §4.1): the config shape,
 * its validation, and the resolution config → genesis → forever into {@link RetentionLimits},
 * the one form the prune planner (retention.ts) reads. Pure: no I/O, no clock.
 */
import { SCOPE_NAME_PATTERN } from '../../protocol/constants-v2.js';

/** Seconds per day of the `days` axis. */
export const SECONDS_PER_DAY = 86_400;

/**
 * A retention policy as written in `scopes.retention`: `"forever"`, or bounds on any of three
 * axes, each a positive integer; an absent axis is unbounded (so `{}` is the same as forever).
 */
export type RetentionPolicy = 'forever' | RetentionBounds;

/** Bounds of a {@link RetentionPolicy}: data commands, bytes of their encodings, age in days. */
export interface RetentionBounds {
  readonly commands?: number;
  readonly bytes?: number;
  readonly days?: number;
}

/** `scopes.retention`: keys are an exact scope name, a `prefix/*` pattern, or `"*"`. */
export type RetentionConfig = Readonly<Record<string, RetentionPolicy>>;

/** A genesis body's `retention` (§1.3): 0 on an axis means no bound on it. */
export interface GenesisRetention {
  readonly maxCommands: number;
  readonly maxBytes: number;
  readonly maxAgeS: number;
}

/**
 * Resolved bounds: `Infinity` on an unbounded axis, so "exceeded" is a plain comparison.
 * `ageS` is in seconds (the config's days × 86,400, or the genesis `max_age_s` as is).
 */
export interface RetentionLimits {
  readonly commands: number;
  readonly bytes: number;
  readonly ageS: number;
}

/** Keep everything. */
export const FOREVER: RetentionLimits = Object.freeze({ commands: Infinity, bytes: Infinity, ageS: Infinity });

/** Where a scope's limits came from: a config key, its genesis, or the default (forever). */
export type RetentionSource = { readonly from: 'config'; readonly key: string } | { readonly from: 'genesis' } | { readonly from: 'default' };

/** The limits of one scope and where they came from (status shows the source). */
export interface ResolvedRetention {
  readonly limits: RetentionLimits;
  readonly source: RetentionSource;
}

/** Limits of a config policy. */
export function limitsOf(policy: RetentionPolicy): RetentionLimits {
  if (policy === 'forever') return FOREVER;
  return {
    commands: policy.commands ?? Infinity,
    bytes: policy.bytes ?? Infinity,
    ageS: policy.days === undefined ? Infinity : policy.days * SECONDS_PER_DAY,
  };
}

/**
 * The config key that governs `scopeName`, or undefined: the exact name, else the longest
 * `prefix/*` whose prefix (with its `/`) starts the name, else `"*"`.
 */
export function matchRetentionKey(config: RetentionConfig | undefined, scopeName: string): string | undefined {
  if (config === undefined) return undefined;
  // Own properties only: a scope named like an Object.prototype member must not match it.
  if (Object.hasOwn(config, scopeName)) return scopeName;
  let best: string | undefined;
  for (const key of Object.keys(config)) {
    if (key.length < 3 || !key.endsWith('/*')) continue;
    const prefix = key.slice(0, -1);
    if (scopeName.startsWith(prefix) && (best === undefined || key.length > best.length)) best = key;
  }
  if (best !== undefined) return best;
  return Object.hasOwn(config, '*') ? '*' : undefined;
}

/**
 * Resolve scope `scopeName`'s retention (§4.1, first match wins): the config's most specific
 * key ({@link matchRetentionKey}); else the genesis retention unless all three axes are 0
 * (an axis at 0 is unbounded); else forever. `config` is trusted to have passed
 * {@link parseRetentionConfig}.
 */
export function resolveRetention(config: RetentionConfig | undefined, scopeName: string, genesisRetention: GenesisRetention): ResolvedRetention {
  const key = matchRetentionKey(config, scopeName);
  if (key !== undefined && config !== undefined) {
    const policy = config[key];
    if (policy !== undefined) return { limits: limitsOf(policy), source: { from: 'config', key } };
  }
  const g = genesisRetention;
  if (g.maxCommands !== 0 || g.maxBytes !== 0 || g.maxAgeS !== 0) {
    const axis = (v: number): number => (v === 0 ? Infinity : v);
    return { limits: { commands: axis(g.maxCommands), bytes: axis(g.maxBytes), ageS: axis(g.maxAgeS) }, source: { from: 'genesis' } };
  }
  return { limits: FOREVER, source: { from: 'default' } };
}

/** Why a retention config was refused. */
export type RetentionConfigReason = 'not-an-object' | 'bad-key' | 'bad-value';

/**
 * A `scopes.retention` value that cannot be used. `reason` is a stable code, `key` the
 * offending key (null when the whole value is wrong), `message` names the path and the value.
 * The CLI maps it onto its ConfigError (exit 78); the store layer cannot import the CLI.
 */
export class RetentionConfigError extends Error {
  override readonly name = 'RetentionConfigError';
  constructor(
    readonly reason: RetentionConfigReason,
    readonly key: string | null,
    message: string,
  ) {
    super(message);
  }
}

const AXES = ['commands', 'bytes', 'days'] as const;
/** Largest `days` whose seconds stay an exact integer. */
const MAX_DAYS = Math.floor(Number.MAX_SAFE_INTEGER / SECONDS_PER_DAY);

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** Whether `key` is an exact scope name, a `prefix/*` pattern (prefix a name ending in `/`), or `"*"`. */
export function isRetentionKey(key: string): boolean {
  if (key === '*') return true;
  if (key.endsWith('/*')) return SCOPE_NAME_PATTERN.test(key.slice(0, -1));
  return SCOPE_NAME_PATTERN.test(key);
}

/**
 * Validate a parsed JSON `scopes.retention` value and return it as a {@link RetentionConfig}
 * (a fresh object with only the validated keys). `path` prefixes error messages.
 * @throws RetentionConfigError naming the first bad key or value: the value is not an object;
 *   a key is none of the three key forms; a value is neither `"forever"` nor an object whose
 *   only fields are `commands`, `bytes`, `days`, each a positive safe integer (days at most
 *   {@link MAX_DAYS}).
 */
export function parseRetentionConfig(json: unknown, path = 'scopes.retention'): RetentionConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RetentionConfigError('not-an-object', null, `${path}: expected an object of scope name → policy, got ${show(json)}`);
  }
  const out: Record<string, RetentionPolicy> = {};
  for (const [key, value] of Object.entries(json)) {
    const at = `${path}.${JSON.stringify(key)}`;
    if (!isRetentionKey(key)) {
      throw new RetentionConfigError('bad-key', key, `${at}: not a scope name, a "prefix/*" pattern or "*"`);
    }
    out[key] = parsePolicy(value, key, at);
  }
  return out;
}

function parsePolicy(value: unknown, key: string, at: string): RetentionPolicy {
  if (value === 'forever') return 'forever';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RetentionConfigError('bad-value', key, `${at}: expected "forever" or { commands?, bytes?, days? }, got ${show(value)}`);
  }
  const bounds: { commands?: number; bytes?: number; days?: number } = {};
  for (const [field, v] of Object.entries(value)) {
    const axis = AXES.find((a) => a === field);
    if (axis === undefined) throw new RetentionConfigError('bad-value', key, `${at}.${field}: unknown field (expected commands, bytes or days)`);
    const max = axis === 'days' ? MAX_DAYS : Number.MAX_SAFE_INTEGER;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
      throw new RetentionConfigError('bad-value', key, `${at}.${field}: expected a positive integer ≤ ${max}, got ${show(v)}`);
    }
    bounds[axis] = v;
  }
  return bounds;
}
