/**
 * Flags shared by `agent` and `gateway`, and how they override config fields. A flag replaces
 * the config field it names (`--link` replaces `links`, `--trust-key` replaces `trust.keys`);
 * `gateway --listen` is the one exception: it adds to the links.
 */
import type { FlagSpec, Flags } from './args.js';
import { list, str } from './args.js';
import { redactUrl } from '../transport/redact-url.js';
import { CONFIG_ENV, configFileFor, DEFAULT_DATA_DIR, ENGINE_DEFAULTS, loadConfig, type Override, type ResolvedConfig } from './config.js';

/** The shared flags. */
export const NODE_FLAGS: Record<string, FlagSpec> = {
  config: { type: 'string', short: 'c', arg: 'FILE', description: 'JSON config file (see docs; every field optional; default $SYNCWIRE_CONFIG)' },
  'data-dir': { type: 'string', short: 'd', arg: 'DIR', description: `command log directory (config dataDir; default ${DEFAULT_DATA_DIR})` },
  key: { type: 'string', short: 'k', arg: 'FILE', description: 'key file from `syncwire keygen` (config keyFile; default <data-dir>/key.json)' },
  link: { type: 'string', short: 'l', multiple: true, arg: 'URL', description: 'transport URL; replaces config links' },
  durability: { type: 'string', arg: 'MODE', description: 'always | none | batch:<ms> (default always)' },
  trust: { type: 'string', arg: 'MODE', description: 'list | open (default list: only trusted keys may connect)' },
  'trust-key': { type: 'string', multiple: true, arg: 'HEX', description: 'trusted public key; replaces config trust.keys' },
  capacity: { type: 'string', arg: 'N', description: `subscription table capacity, a power of two (default ${ENGINE_DEFAULTS.subscriptionCapacity})` },
  'poll-only': { type: 'boolean', description: 'never subscribe to peers; only poll them (config subscribe: false)' },
  'log-level': { type: 'string', arg: 'LEVEL', description: 'fatal|error|warn|info|debug|trace|silent (default $SYNCWIRE_LOG_LEVEL, else config, else info); JSON logs on stderr' },
  'status-socket': { type: 'string', arg: 'PATH', description: 'unix socket of the local HTTP API (status, commit, tail, show; default <data-dir>/status.sock; "" = none)' },
  'print-config': { type: 'boolean', description: 'print the resolved config (password redacted) and exit' },
  protocol: { type: 'string', arg: 'N', description: 'sync protocol: 2 (default; scopes) or 1 (one graph, being retired; config protocol)' },
  'scope-join': { type: 'string', multiple: true, arg: 'NAME', description: 'protocol 2: join this scope when a trusted peer opens it, NAME or NAME@<64 hex id>; adds to config scopes.join' },
  'scope-default': { type: 'string', arg: 'NAME', description: 'protocol 2: the scope commit/tail/the API use when none is named ("device/self" = own device scope; config scopes.default)' },
};

/** Text shared by the help of both commands. */
export const URL_HELP = `Link URLs (one transport each; a dialer reconnects with backoff):
  serial:/dev/ttyUSB0[?baud=115200]        a UART (serialport loaded only for serial links)
  tcp://host:port  tcp-listen://host:port  TCP dialer / listener
  tls://host:port  tls-listen://host:port  TLS (?ca=&cert=&key= files)
  mqtt://[user:pass@]host:port/<peer-id>   MQTT dialer to one peer (mqtt.js loaded only for MQTT)
  mqtt-listen://host:port                  MQTT listener: one link per peer writing to our inbox
  (mqtts:// and mqtts-listen:// add TLS; config "mqtt" supplies credentials and certificates)
  ?seal=require|prefer|off on any URL: end-to-end sealing of its links (default require;
  prefer for tls, tls-listen and serial; off only for peers of an older release)`;

/** A number when the flag parses as one, else the raw text (so the schema error shows it). */
function numeric(v: string): number | string {
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) ? n : v;
}

/**
 * Environment variables a daemon in a container is configured by. Each is used only when its
 * flag is absent (the flag wins); an empty value counts as unset.
 * - `SYNCWIRE_CONFIG`: the config file, when `--config` is not given.
 * - `SYNCWIRE_LOG_LEVEL`: the log level, as `--log-level` (it overrides the config's `log.level`).
 */
export const ENV = { config: CONFIG_ENV, logLevel: 'SYNCWIRE_LOG_LEVEL' } as const;

/** `name` from `env`, or undefined when unset or empty. */
function fromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** Config overrides named by the shared flags (and by {@link ENV} where a flag is absent). */
export function nodeOverrides(flags: Flags, env: NodeJS.ProcessEnv = process.env): Override[] {
  const o: Override[] = [];
  const set = (flag: string, path: string[], value: unknown): void => {
    o.push({ path, value, flag });
  };
  const dataDir = str(flags, 'data-dir');
  if (dataDir !== undefined) set('data-dir', ['dataDir'], dataDir);
  const key = str(flags, 'key');
  if (key !== undefined) set('key', ['keyFile'], key);
  if (flags.link !== undefined) set('link', ['links'], list(flags, 'link'));
  const durability = str(flags, 'durability');
  if (durability !== undefined) set('durability', ['durability'], durability);
  const trust = str(flags, 'trust');
  if (trust !== undefined) set('trust', ['trust', 'mode'], trust);
  if (flags['trust-key'] !== undefined) set('trust-key', ['trust', 'keys'], list(flags, 'trust-key'));
  const capacity = str(flags, 'capacity');
  if (capacity !== undefined) set('capacity', ['subscriptions', 'capacity'], numeric(capacity));
  if (flags['poll-only'] === true) set('poll-only', ['subscribe'], false);
  const level = str(flags, 'log-level');
  const envLevel = fromEnv(env, ENV.logLevel);
  if (level !== undefined) set('log-level', ['log', 'level'], level);
  else if (envLevel !== undefined) o.push({ path: ['log', 'level'], value: envLevel, flag: 'log-level', source: ENV.logLevel });
  const sock = str(flags, 'status-socket');
  if (sock !== undefined) set('status-socket', ['statusSocket'], sock);
  const protocol = str(flags, 'protocol');
  if (protocol !== undefined) set('protocol', ['protocol'], numeric(protocol));
  if (flags['scope-join'] !== undefined) o.push({ path: ['scopes', 'join'], value: list(flags, 'scope-join'), flag: 'scope-join', append: true });
  const scopeDefault = str(flags, 'scope-default');
  if (scopeDefault !== undefined) set('scope-default', ['scopes', 'default'], scopeDefault);
  return o;
}

/**
 * Load the config named by `--config` (else `$SYNCWIRE_CONFIG`, else none), apply the flags and
 * environment overrides, and add `extraLinks` (gateway `--listen`).
 */
export async function configFromFlags(flags: Flags, extraLinks: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<ResolvedConfig> {
  const cfg = await loadConfig(configFileFor(str(flags, 'config'), env), nodeOverrides(flags, env));
  cfg.links = [...cfg.links, ...extraLinks];
  return cfg;
}

/** The resolved config as printed by `--print-config` (password redacted). */
export function printableConfig(cfg: ResolvedConfig): object {
  return {
    ...cfg,
    durability: cfg.durabilityText,
    durabilityText: undefined,
    mqtt: { ...cfg.mqtt, ...(cfg.mqtt.password !== undefined ? { password: '***' } : {}) },
    links: cfg.links.map((l) => redactUrl(l)),
    // The API's bearer token is a secret like the MQTT password; the labels Map as an object.
    api: { ...cfg.api, token: cfg.api.token === null ? null : '***' },
    trust: { ...cfg.trust, labels: Object.fromEntries(cfg.trust.labels) },
  };
}
