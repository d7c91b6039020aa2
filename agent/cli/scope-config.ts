/**
 * The `scopes` config of a protocol 2 node with its role's defaults applied
 * (docs/design/v2-scopes.md §6.1, §1.9, §4.1, §11.3). config.ts keeps `scopes` as written; the
 * node (agent or gateway) calls {@link resolveScopes} once it knows its role and its own key.
 *
 * | field | agent | gateway |
 * |---|---|---|
 * | `max` | 8 | unlimited (`Infinity`) |
 * | `deviceScopes` | null unless configured | `{}` (on, §1.9 defaults) unless `false` |
 * | `retention` | the file's (`{}`: every scope follows its genesis) | `{ "*": "forever", "device/*": { "days": 30 } }` under the file's |
 *
 * The gateway keeps device scopes 30 days, not forever: at 1 Hz each device adds ~8 MB of index
 * RAM per day (§11.3). Pure: no I/O.
 */
import { MalformedError } from '../../protocol/errors.js';
import type { GenesisRetention } from '../../protocol/genesis.js';
import type { RetentionConfig } from '../store/retention-policy.js';
import { genesisRetentionOf, parseRoles, type DeviceScopesConfig } from '../sync/device-scope.js';
import { ConfigError, type ResolvedConfig } from './config.js';

/** A scope this node creates at start-up when it holds none of that name (`scopes.create`). */
export interface ScopeCreate {
  name: string;
  /** Genesis flag `open_read`: every peer the link trust admits may read. Default false. */
  openRead: boolean;
  /** Genesis members, keys lowercase hex (`"self"` replaced by the own key), sorted by key. */
  members: { key: string; roles: number }[];
  /** Absent in the file: the §1.9 default (1,024 commands, 30 days); `{}`: unbounded. */
  retention: GenesisRetention;
}

/** `scopes` with the role defaults applied (see the module comment). */
export interface ResolvedScopes {
  /** The default scope of commit / tail / the API; `device/self` already `device/<peerId>`. Null: none. */
  default: string | null;
  /** `scopes.join` as written (`name` or `name@<64 hex>`). */
  join: string[];
  max: number;
  /** Null: this node creates no device scopes. Keys lowercase. */
  deviceScopes: DeviceScopesConfig | null;
  retention: RetentionConfig;
  create: ScopeCreate[];
}

/** Default `scopes.max` of the agent role (§1.9). */
export const AGENT_MAX_SCOPES = 8;

/** The gateway role's retention, laid under the file's entries (a file key wins). */
export const GATEWAY_RETENTION: RetentionConfig = Object.freeze({ '*': 'forever', 'device/*': Object.freeze({ days: 30 }) });

/** The own-node name `scopes.default` may use. */
export const DEVICE_SELF = 'device/self';

/**
 * `cfg.scopes` with the defaults of `role` applied, `device/self` and member `"self"` replaced
 * by this node's peer id and public key.
 * @throws ConfigError naming the field when an entry cannot be used (a config that passed
 *   loadConfig's validation only fails here on a member listed twice once `"self"` is replaced).
 */
export function resolveScopes(cfg: ResolvedConfig, role: 'agent' | 'gateway', self: { peerId: string; publicKeyHex: string }): ResolvedScopes {
  const s = cfg.scopes;
  const own = self.publicKeyHex.toLowerCase();
  const dflt = s.default === undefined ? null : s.default === DEVICE_SELF ? `device/${self.peerId}` : s.default;
  return {
    default: dflt,
    join: [...(s.join ?? [])],
    max: s.max ?? (role === 'agent' ? AGENT_MAX_SCOPES : Infinity),
    deviceScopes: deviceScopesOf(s.deviceScopes, role),
    retention: role === 'gateway' ? { ...GATEWAY_RETENTION, ...s.retention } : { ...s.retention },
    create: (s.create ?? []).map((c, i) => {
      const at = `scopes.create[${i}]`;
      const members = c.members.map((m, j) => ({ key: m.key === 'self' ? own : m.key.toLowerCase(), roles: guard(`${at}.members[${j}].roles`, () => parseRoles(m.roles)) }));
      members.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const dup = members.find((m, j) => j > 0 && members[j - 1]!.key === m.key);
      if (dup !== undefined) throw new ConfigError(`${at}.members: key ${dup.key} is listed twice ("self" is ${own})`);
      return { name: c.name, openRead: c.openRead ?? false, members, retention: guard(`${at}.retention`, () => genesisRetentionOf(c.retention)) };
    }),
  };
}

function deviceScopesOf(d: ResolvedConfig['scopes']['deviceScopes'], role: 'agent' | 'gateway'): DeviceScopesConfig | null {
  if (d === false) return null;
  if (d === undefined) return role === 'gateway' ? {} : null;
  // device-scope.ts compares lowercase hex; the config accepts either case.
  return {
    ...(d.members !== undefined ? { members: d.members.map((m) => ({ key: m.key.toLowerCase(), roles: m.roles })) } : {}),
    ...(d.exclude !== undefined ? { exclude: d.exclude.map((k) => k.toLowerCase()) } : {}),
    ...(d.retention !== undefined ? { retention: { ...d.retention } } : {}),
  };
}

/** `f()`, its MalformedError (a config that skipped validation) as a ConfigError naming `at`. */
function guard<T>(at: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof MalformedError) throw new ConfigError(`${at}: ${err.message}`);
    throw err;
  }
}
