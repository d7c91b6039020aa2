/**
 * The JSON config file as a TypeBox schema. Every field is optional; defaults are filled in by
 * `resolveConfig` (config.ts). Each schema carries an `expected` annotation: the phrase used in
 * validation errors (`/durability: expected "always", "none" or "batch:<ms>", got "sometimes"`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { LOG_LEVELS } from './log-levels.js';

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
  },
  { additionalProperties: false, expected: 'a JSON object' },
);
/** The config file as parsed (every field optional). */
export type ConfigFile = Static<typeof ConfigFile>;
