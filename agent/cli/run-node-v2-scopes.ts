/**
 * The node's view of `scopes` config (contract.md, session 7): {@link ResolvedScopes} with the
 * role defaults applied. A stand-in for `resolveScopes` of agent/cli/scope-config.ts (the config
 * helper's) until it lands: same types and rules, used only by run-node-v2.ts.
 */
import { parseRoles, genesisRetentionOf, type DeviceScopesConfig } from '../sync/device-scope.js';
import type { GenesisRetention } from '../../protocol/genesis.js';
import type { RetentionConfig, RetentionBounds } from '../store/retention-policy.js';
import type { ResolvedConfig } from './config.js';

/** One `scopes.create` entry, resolved. */
export interface ScopeCreate {
  name: string;
  openRead: boolean;
  members: { key: string; roles: number }[];
  retention: GenesisRetention;
}

/** `scopes` with the role's defaults applied (contract.md). */
export interface ResolvedScopes {
  default: string | null;
  join: string[];
  max: number;
  deviceScopes: DeviceScopesConfig | null;
  retention: RetentionConfig;
  create: ScopeCreate[];
}

/** `scopes` as written in a config file (every field optional). */
interface ScopesFile {
  default?: string;
  join?: string[];
  max?: number;
  deviceScopes?: DeviceScopesConfig | false;
  retention?: RetentionConfig;
  create?: { name: string; openRead?: boolean; members: { key: string; roles: string }[]; retention?: RetentionBounds }[];
}

/** The protocol and scopes fields of a config (present once the config helper's fields land). */
export interface V2ConfigFields {
  protocol?: 1 | 2;
  scopes?: ScopesFile;
}

/** `cfg.protocol`, 1 when absent. */
export function protocolOf(cfg: ResolvedConfig): 1 | 2 {
  return (cfg as ResolvedConfig & V2ConfigFields).protocol === 2 ? 2 : 1;
}

/** Apply the role defaults (agent: max 8, no device scopes; gateway: max Infinity, device scopes on, retention `*` forever). */
export function resolveScopes(cfg: ResolvedConfig, role: 'agent' | 'gateway', self: { peerId: string; publicKeyHex: string }): ResolvedScopes {
  const f: ScopesFile = (cfg as ResolvedConfig & V2ConfigFields).scopes ?? {};
  const gw = role === 'gateway';
  return {
    default: f.default === 'device/self' ? `device/${self.peerId}` : (f.default ?? null),
    join: [...(f.join ?? [])],
    max: f.max ?? (gw ? Infinity : 8),
    deviceScopes: f.deviceScopes === false ? null : (f.deviceScopes ?? (gw ? {} : null)),
    retention: gw ? { '*': 'forever', ...(f.retention ?? {}) } : { ...(f.retention ?? {}) },
    create: (f.create ?? []).map((c) => ({
      name: c.name,
      openRead: c.openRead === true,
      members: c.members.map((m) => ({ key: m.key === 'self' ? self.publicKeyHex : m.key, roles: parseRoles(m.roles) })),
      retention: c.retention === undefined ? { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } : genesisRetentionOf(c.retention),
    })),
  };
}
