/**
 * The JSON config file as a TypeBox schema. Every field is optional; defaults are filled in by
 * `resolveConfig` (config.ts). Each schema carries an `expected` annotation: the phrase used in
 * validation errors (`/durability: expected "always", "none" or "batch:<ms>", got "sometimes"`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { LOG_LEVELS } from './log-levels.js';
import { SCOPE_NAME_PATTERN } from '../../protocol/constants-v2.js';
import type { RetentionConfig } from '../store/retention-policy.js';

const HEX_KEY = '^[0-9a-fA-F]{64}$';
const DURABILITY = '^(always|none|batch:[1-9][0-9]*)$';
/** `host:port` or `[v6]:port`; the port's range is checked in config.ts (`parseListen`). */
const LISTEN = '^(\\[[0-9a-fA-F:.]+\\]|[^\\[\\]:/\\s]+):[0-9]{1,5}$';

const PosInt = (expected: string, extra: object = {}) => Type.Integer({ minimum: 1, expected, ...extra });

/** `trust`: who may connect and author commands. */
export const TrustConfig = Type.Object(
  {
    /** `list` (default): only `keys` and our own key. `open`: anyone (lab use only). */
    mode: Type.Optional(Type.Union([Type.Literal('list'), Type.Literal('open')], { expected: '"list" or "open"' })),
    /** Trusted ed25519 public keys, 64 hex chars each. Default []. */
    keys: Type.Optional(Type.Array(Type.String({ pattern: HEX_KEY, expected: 'a 64-hex-char ed25519 public key' }), { expected: 'an array of 64-hex-char public keys' })),
    /**
     * A file of trusted keys (agent/cli/trust-file.ts: one 64-hex key per line, then an optional
     * label; `#` comments). Trusted = `keys` ∪ the file's keys; the file is re-read on SIGHUP and
     * `POST /v1/reload`. Relative to the working directory. Default: none.
     */
    keysFile: Type.Optional(Type.String({ minLength: 1, expected: 'a file path' })),
  },
  { additionalProperties: false, expected: 'an object { "mode", "keys", "keysFile" }' },
);

/**
 * `api`: the optional TCP listener of the local HTTP API (the unix socket `statusSocket` always
 * speaks it). `listen` needs `tokenFile` (checked in config.ts: a schema cannot say it).
 */
export const ApiConfig = Type.Object(
  {
    /** `host:port` (IPv6 in brackets: `[::1]:8787`). Default: no TCP listener. */
    listen: Type.Optional(Type.String({ pattern: LISTEN, expected: '"host:port" (IPv6 in brackets, e.g. "[::1]:8787")' })),
    /** File holding the bearer token (trimmed, at least 16 characters; mode 0600 or stricter). */
    tokenFile: Type.Optional(Type.String({ minLength: 1, expected: 'a file path' })),
  },
  { additionalProperties: false, expected: 'an object { "listen", "tokenFile" }' },
);

/** `subscriptions`: the table of peers that subscribe to us. */
export const SubscriptionsConfig = Type.Object(
  {
    /** Table capacity, a power of two. Default 128 (`ENGINE_DEFAULTS.subscriptionCapacity`, config.ts). */
    capacity: Type.Optional(PosInt('a power of two (1..65536)', { maximum: 65536 })),
    /** Longest subscription we grant, seconds. Default 900 (`ENGINE_DEFAULTS.maxRemainOpenS`, config.ts). */
    maxRemainOpenS: Type.Optional(PosInt('a positive integer number of seconds')),
  },
  { additionalProperties: false, expected: 'an object { "capacity", "maxRemainOpenS" }' },
);

/** `subscribe`: what we ask of peers that push; `false` to only poll. Default 600 s, 1 MiB (`ENGINE_DEFAULTS.subscribe`, config.ts). */
export const SubscribeConfig = Type.Union(
  [
    Type.Object(
      {
        remainOpenS: PosInt('a positive integer number of seconds'),
        maxBytes: PosInt('a positive integer number of bytes'),
      },
      { additionalProperties: false },
    ),
    Type.Literal(false),
  ],
  { expected: '{ "remainOpenS": <s>, "maxBytes": <n> } or false' },
);

/** `mqtt`: broker credentials and TLS material for every `mqtt(s)` link. */
export const MqttConfig = Type.Object(
  {
    username: Type.Optional(Type.String({ expected: 'a string' })),
    password: Type.Optional(Type.String({ expected: 'a string' })),
    /** CA file path (or PEM text) for `mqtts:`. */
    ca: Type.Optional(Type.String({ expected: 'a file path or PEM text' })),
    /** Client certificate file path (or PEM text). */
    cert: Type.Optional(Type.String({ expected: 'a file path or PEM text' })),
    /** Client key file path (or PEM text). */
    key: Type.Optional(Type.String({ expected: 'a file path or PEM text' })),
  },
  { additionalProperties: false, expected: 'an object { "username", "password", "ca", "cert", "key" }' },
);

/** A scope name (protocol/constants-v2.ts `SCOPE_NAME_PATTERN`). */
const SCOPE_NAME = Type.String({ pattern: SCOPE_NAME_PATTERN.source, expected: 'a scope name (1..64 of a-z 0-9 . _ / -, starting with a letter or digit)' });
/** Roles as letters r, w, a, each at most once (the lookahead refuses a repeated letter). */
const ROLES = Type.String({ pattern: '^(?!.*(.).*\\1)[rwa]{1,3}$', expected: 'roles as letters r, w, a (each at most once, at least one)' });
/** Largest `days` of a genesis retention: `max_age_s` is a uint32. */
const GENESIS_MAX_DAYS = Math.floor(0xffff_ffff / 86_400);
/** Largest `days` of a host retention policy whose seconds stay an exact integer (retention-policy.ts). */
const POLICY_MAX_DAYS = Math.floor(Number.MAX_SAFE_INTEGER / 86_400);

/** A genesis `retention` (§1.3): each axis a positive uint32 (days × 86,400 too); an absent axis is unbounded. */
export const GenesisRetentionConfig = Type.Object(
  {
    commands: Type.Optional(PosInt('a positive integer (at most 4294967295)', { maximum: 0xffff_ffff })),
    bytes: Type.Optional(PosInt('a positive integer (at most 4294967295)', { maximum: 0xffff_ffff })),
    days: Type.Optional(PosInt(`a positive integer number of days (at most ${GENESIS_MAX_DAYS})`, { maximum: GENESIS_MAX_DAYS })),
  },
  { additionalProperties: false, expected: 'an object { "commands", "bytes", "days" }' },
);

/** A host retention policy (`scopes.retention` values, agent/store/retention-policy.ts). */
const RetentionPolicyConfig = Type.Union(
  [
    Type.Literal('forever'),
    Type.Object(
      {
        commands: Type.Optional(PosInt('a positive integer')),
        bytes: Type.Optional(PosInt('a positive integer')),
        days: Type.Optional(PosInt(`a positive integer number of days (at most ${POLICY_MAX_DAYS})`, { maximum: POLICY_MAX_DAYS })),
      },
      { additionalProperties: false },
    ),
  ],
  { expected: '"forever" or { "commands", "bytes", "days" }' },
);

/**
 * `scopes` (docs/design/v2-scopes.md §6.1). Role defaults are applied by scope-config.ts `resolveScopes`.
 */
export const ScopesConfig = Type.Object(
  {
    /** The scope `commit`/`tail`/the API use when none is named; `"device/self"` = `device/<own peer id>`. */
    default: Type.Optional(SCOPE_NAME),
    /** Scopes to join when a trusted peer opens them: `"fleet/acme"` or pinned `"fleet/acme@<64 hex id>"` (checked in config.ts). */
    join: Type.Optional(Type.Array(Type.String({ minLength: 1, expected: 'a scope name, or "name@<64 hex id>"' }), { expected: 'an array of scope names' })),
    /** Most scopes held. Default 8 (agent), unlimited (gateway). */
    max: Type.Optional(PosInt('a positive integer')),
    /** Device scopes a gateway creates per peer (§1.9); `false` for none. Default `{}` on a gateway, none on an agent. */
    deviceScopes: Type.Optional(
      Type.Union(
        [
          Type.Object(
            {
              members: Type.Optional(
                Type.Array(
                  Type.Object({ key: Type.String({ pattern: HEX_KEY, expected: 'a 64-hex-char ed25519 public key' }), roles: ROLES }, { additionalProperties: false, expected: 'an object { "key", "roles" }' }),
                  { maxItems: 14, expected: 'an array of at most 14 { "key", "roles" } (a genesis has at most 16 members)' },
                ),
              ),
              exclude: Type.Optional(Type.Array(Type.String({ pattern: HEX_KEY, expected: 'a 64-hex-char ed25519 public key' }), { expected: 'an array of 64-hex-char public keys' })),
              retention: Type.Optional(GenesisRetentionConfig),
            },
            { additionalProperties: false },
          ),
          Type.Literal(false),
        ],
        { expected: '{ "members", "exclude", "retention" } or false' },
      ),
    ),
    /** Retention by exact name, `"prefix/*"` or `"*"` (§4.1; keys checked in config.ts). */
    // An object with additional properties, not Type.Record: the generated check cannot carry the
    // key pattern constant a Record compiles to, and `"*"` named keeps its key list typed.
    // Its static type is set in ScopesFileConfig.
    retention: Type.Optional(
      Type.Object({ '*': Type.Optional(RetentionPolicyConfig) }, { additionalProperties: RetentionPolicyConfig, expected: 'an object of scope name, "prefix/*" or "*" → policy' }),
    ),
    /** Scopes this host creates at start-up when it holds none of that name; it must be an admin (`"self"` with `a`). */
    create: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: SCOPE_NAME,
            openRead: Type.Optional(Type.Boolean({ expected: 'true or false' })),
            members: Type.Array(
              Type.Object(
                { key: Type.String({ pattern: '^([0-9a-fA-F]{64}|self)$', expected: 'a 64-hex-char public key or "self"' }), roles: ROLES },
                { additionalProperties: false, expected: 'an object { "key", "roles" }' },
              ),
              { minItems: 1, maxItems: 16, expected: 'an array of 1..16 { "key", "roles" } (the genesis members)' },
            ),
            retention: Type.Optional(GenesisRetentionConfig),
          },
          { additionalProperties: false, expected: 'an object { "name", "openRead", "members", "retention" }' },
        ),
        { expected: 'an array of scopes to create' },
      ),
    ),
  },
  { additionalProperties: false, expected: 'an object { "default", "join", "max", "deviceScopes", "retention", "create" }' },
);

/** The whole config file. */
export const ConfigFile = Type.Object(
  {
    /** Directory of the command log (and default key, lock and status socket). Default `./syncwire-data`. */
    dataDir: Type.Optional(Type.String({ minLength: 1, expected: 'a directory path' })),
    /** Key file written by `syncwire keygen`. Default `<dataDir>/key.json`. */
    keyFile: Type.Optional(Type.String({ minLength: 1, expected: 'a file path' })),
    /** `always` (default: each commit acknowledged after a shared fsync), `none`, or `batch:<ms>`. */
    durability: Type.Optional(Type.String({ pattern: DURABILITY, expected: '"always", "none" or "batch:<ms>"' })),
    trust: Type.Optional(TrustConfig),
    /** Transport URLs (`serial:/dev/ttyUSB0`, `tcp://h:p`, `tcp-listen://h:p`, `mqtt://h:p/<peer>`, `mqtt-listen://h:p`, ...). */
    links: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9+.-]*:', expected: 'a transport URL such as "tcp://host:port"' }), { expected: 'an array of transport URLs' })),
    subscriptions: Type.Optional(SubscriptionsConfig),
    subscribe: Type.Optional(SubscribeConfig),
    /** `max_bytes` of our polls. Default 65536 (`ENGINE_DEFAULTS.pollMaxBytes`, config.ts). */
    pollMaxBytes: Type.Optional(Type.Integer({ minimum: 256, maximum: 65536, expected: 'an integer from 256 to 65536' })),
    /** Take covered commands without their signatures (engine setting `elide`, PROTOCOL.md §10.7). Default false. */
    elideSignatures: Type.Optional(Type.Boolean({ expected: 'true or false' })),
    /** With `elideSignatures`: the segment of our polls (engine setting `elideSegment`, PROTOCOL.md §10.7 C5). Default 65536. */
    elideSegmentBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 16777216, expected: 'an integer from 1024 to 16777216' })),
    log: Type.Optional(
      Type.Object(
        { level: Type.Optional(Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { expected: LOG_LEVELS.map((l) => `"${l}"`).join(', ') })) },
        { additionalProperties: false, expected: 'an object { "level" }' },
      ),
    ),
    /** Unix socket of the local HTTP API (and so of `syncwire status`/`commit`). Default `<dataDir>/status.sock`; "" disables it. */
    statusSocket: Type.Optional(Type.String({ expected: 'a socket path, or "" to disable' })),
    mqtt: Type.Optional(MqttConfig),
    api: Type.Optional(ApiConfig),
    /** Sync protocol: 2 (the default and the only one; 1 passes the schema so config.ts can say it was removed). */
    protocol: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2)], { expected: '2' })),
    scopes: Type.Optional(ScopesConfig),
  },
  { additionalProperties: false, expected: 'a JSON object' },
);
/** The config file as parsed (every field optional; `scopes.retention` typed by {@link ScopesFileConfig}). */
export type ConfigFile = Omit<Static<typeof ConfigFile>, 'scopes'> & { scopes?: ScopesFileConfig };
/** `scopes` as written (every field optional). */
export type ScopesFileConfig = Omit<Static<typeof ScopesConfig>, 'retention'> & { retention?: RetentionConfig };
