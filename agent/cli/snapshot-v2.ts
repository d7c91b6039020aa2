/**
 * The status snapshot of a protocol-2 agent (`GET /v1/status`, `syncwire status --json`;
 * docs/STATUS.md "Protocol 2"): v1's process fields under the same names (role, pid, uptimeS,
 * dataDir, durability, version, rssBytes, lastError, transports, modules, peerId, peers), plus
 * `protocol: 2`, the `scopes` array (what `GET /v1/scopes` lists) and the v2 counters.
 */
import { Role } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { Link } from '../link.js';
import type { CommandStore } from '../store/command-store.js';
import { LEGACY_SCOPE_NAME } from '../store/scope-dir.js';
import type { EngineV2 } from '../sync/engine-v2.js';
import type { ScopeHost } from '../sync/scope-host.js';
import { loadedModules, type LastError, type TransportInfo } from './snapshot.js';
import { packageVersion } from './version.js';

/** One scope as status and `GET /v1/scopes` show it. */
export interface ScopeInfo {
  name: string;
  /** Scope id, 64 hex (the local id for `legacy/v1`). */
  id: string;
  /** This host's roles in it as letters (`rwa`), '' for none; `null` for `legacy/v1`. */
  roles: string | null;
  /** Handles assigned (commands ever appended, pruned ones included). */
  commands: number;
  /** Commands still held (retained: from `base` on, and the pinned ones below it). */
  retained: number;
  /** Smallest handle from which every command is retained. */
  base: number;
  /** Horizon entries (pruned or never-held parents of retained commands). */
  horizon: number;
  /** Still waiting for its genesis from the peer it was joined from. */
  joining: boolean;
  /** `legacy/v1`: commits are refused (409 `read_only`). */
  readOnly: boolean;
}

/** One v2 session as status shows it (v1's peer field names where the meaning is the same). */
export interface PeerInfoV2 {
  /** Peer id, or `(handshake)` before its Hello was accepted. */
  id: string;
  link: string;
  authenticated: boolean;
  sealed: boolean;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Scoped messages naming a scope number that does not route (§3.10). */
  unknownScope: number;
}

/** The protocol-2 status snapshot. */
export interface SnapshotV2 {
  protocol: 2;
  peerId: string;
  role: string;
  pid: number;
  uptimeS: number;
  dataDir: string;
  durability: string;
  version: string;
  rssBytes: number;
  lastError: LastError | null;
  /** Commands held over every scope (handles assigned; `legacy/v1` included). */
  commands: number;
  scopes: ScopeInfo[];
  peers: PeerInfoV2[];
  /** Joined scopes dropped because their first command was not their genesis (§1.9). */
  scopeJoinsRejected: number;
  transports: TransportInfo[];
  modules: { mqtt: boolean; serialport: boolean };
}

/** What {@link takeSnapshotV2} reads. */
export interface SnapshotV2Source {
  engine: EngineV2;
  /** The read-only legacy store, when the data directory had a v1 store. */
  legacy: { id: Uint8Array; store: CommandStore } | null;
  role: string;
  startedAt: number;
  dataDir: string;
  durability: string;
  transports: { url: string; localPort: number | undefined; links: ReadonlySet<Link> }[];
  lastError?: () => LastError | null;
}

/** Role bits as letters r, w, a. */
export function rolesText(bits: number): string {
  return `${bits & Role.Read ? 'r' : ''}${bits & Role.Write ? 'w' : ''}${bits & Role.Admin ? 'a' : ''}`;
}

/** The status entry of one hosted scope. */
export function scopeInfo(h: ScopeHost, ownKey: Uint8Array): ScopeInfo {
  const s = h.store;
  // Below base only pinned commands (heads, membership) are retained: usually few handles to look at.
  let pinned = 0;
  for (let i = 0; i < s.base; i++) if (s.isRetained(i)) pinned++;
  return {
    name: h.name, id: toHex(h.id), roles: rolesText(h.membership.roles(ownKey)), commands: s.size,
    retained: s.size - s.base + pinned, base: s.base, horizon: s.horizon().length, joining: h.joining, readOnly: false,
  };
}

/** Every scope held, `legacy/v1` last. */
export function scopeInfos(engine: EngineV2, legacy: SnapshotV2Source['legacy']): ScopeInfo[] {
  const out = engine.scopes().map((sum) => {
    const h = engine.scope(sum.name);
    return h ? scopeInfo(h, engine.identity.publicKey) : { name: sum.name, id: sum.id, roles: '', commands: sum.commands, retained: 0, base: 0, horizon: 0, joining: sum.joining, readOnly: false };
  });
  if (legacy) {
    const n = legacy.store.size;
    out.push({ name: LEGACY_SCOPE_NAME, id: toHex(legacy.id), roles: null, commands: n, retained: n, base: 0, horizon: 0, joining: false, readOnly: true });
  }
  return out;
}

/** Take the snapshot. */
export function takeSnapshotV2(src: SnapshotV2Source): SnapshotV2 {
  const e = src.engine;
  const scopes = scopeInfos(e, src.legacy);
  return {
    protocol: 2,
    peerId: e.peerId,
    role: src.role,
    pid: process.pid,
    uptimeS: Math.round((Date.now() - src.startedAt) / 1000),
    dataDir: src.dataDir,
    durability: src.durability,
    version: packageVersion(),
    rssBytes: process.memoryUsage.rss(),
    lastError: src.lastError?.() ?? null,
    commands: scopes.reduce((n, s) => n + s.commands, 0),
    scopes,
    peers: e.sessions().map((s) => ({
      id: s.authenticated ? s.peerId : '(handshake)', link: s.link.description, authenticated: s.authenticated, sealed: s.sealed,
      framesIn: s.stats.framesIn, framesOut: s.stats.framesOut, bytesIn: s.stats.bytesIn, bytesOut: s.stats.bytesOut, unknownScope: s.stats.unknownScope,
    })),
    scopeJoinsRejected: e.joinsRejected,
    transports: src.transports.map((t) => ({ url: t.url, localPort: t.localPort ?? null, links: [...t.links].map((l) => l.description) })),
    modules: loadedModules(),
  };
}
