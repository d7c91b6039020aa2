/**
 * The status snapshot of a protocol-2 agent (`GET /v1/status`, `syncwire status --json`;
 * docs/STATUS.md "Protocol 2"): v1's process fields under the same names (role, pid, uptimeS,
 * dataDir, durability, version, rssBytes, lastError, transports, modules, peerId, peers), plus
 * `protocol: 2`, the `scopes` array (what `GET /v1/scopes` lists) and the v2 counters.
 */
import { fromHex } from '../../protocol/keys.js';
import type { Link } from '../link.js';
import type { CommandStore } from '../store/command-store.js';
import type { EngineV2 } from '../sync/engine-v2.js';
import type { ScopeSubscriptionState } from '../sync/scope-subscription.js';
import type { SessionV2 } from '../sync/session-v2.js';
import { scopeInfos, type ScopeInfo } from './scope-info.js';
import { loadedModules, type LastError, type TransportInfo } from './process-info.js';
import { packageVersion } from './version.js';

export { activePeerCounts, rolesText, retentionInfo, scopeInfo, scopeInfos, type RetentionInfo, type ScopeInfo } from './scope-info.js';

/** One scope active with a peer (both entries open, §3.3), and the push subscriptions of it (§11). */
export interface PeerScopeInfo {
  name: string;
  /** This side's subscription to the peer's pushes of the scope (`polling`: none asked or granted). */
  subscription: ScopeSubscriptionState;
  /** The peer holds a subscription to this side's pushes of the scope, bound to this link and not expired. */
  peerSubscribed: boolean;
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
  /** `Hello`s of another version refused on this link, or refusals of ours received (§3.1). */
  versionRefused: number;
  /** The peer's polls and `Subscribe`s refused `NotAMember` on this link (§3.10). */
  notAMember: number;
  /** The peer's pushes dropped on this link: the scope's backlog of pushed commands was full (§11.8). */
  pushesDropped: number;
  /** The scopes active with the peer on this link, by name. */
  scopes: PeerScopeInfo[];
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
  /** `Hello`s of another version refused, and refusals of ours received, since start (ended links included). */
  versionRefused: number;
  /** Scoped messages naming a scope number that does not route, since start (ended links included). */
  unknownScope: number;
  /** Polls and `Subscribe`s refused `NotAMember` since start (ended links included, §3.10). */
  notAMember: number;
  /** Links closed by the dead-link watchdog since start (§10.2). */
  deadLinkCloses: number;
  /** Pushes dropped because a scope's backlog of pushed commands was full, since start (§11.8). */
  pushesDropped: number;
  /** Gap markers written over every scope since start (§4.6). */
  gaps: number;
  /** The (peer, scope) push subscription table (§11): slots in use and capacity. */
  subscriptions: { used: number; capacity: number };
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

/** A session as status shows it; `names` maps scope ids (hex) to names. */
export function peerInfoV2(e: EngineV2, s: SessionV2, names: ReadonlyMap<string, string>): PeerInfoV2 {
  const scopes: PeerScopeInfo[] = [];
  for (const key of s.table.theirs.keys()) {
    const name = names.get(key);
    if (name === undefined || s.table.ownState(key) !== 'open') continue;
    const id = fromHex(key);
    scopes.push({ name, subscription: s.scoped.push.subscriptionOf(id)?.state ?? 'stopped', peerSubscribed: e.subscribedBy(s, id) });
  }
  scopes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const st = s.stats;
  return {
    id: s.authenticated ? s.peerId : '(handshake)', link: s.link.description, authenticated: s.authenticated, sealed: s.sealed,
    framesIn: st.framesIn, framesOut: st.framesOut, bytesIn: st.bytesIn, bytesOut: st.bytesOut, unknownScope: st.unknownScope,
    versionRefused: st.versionRefused, notAMember: st.notAMember, pushesDropped: st.pushesDropped, scopes,
  };
}

/** Take the snapshot. */
export function takeSnapshotV2(src: SnapshotV2Source): SnapshotV2 {
  const e = src.engine;
  const scopes = scopeInfos(e, src.legacy);
  const names = new Map(scopes.map((x) => [x.id, x.name]));
  const c = e.counters;
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
    peers: e.sessions().map((s) => peerInfoV2(e, s, names)),
    scopeJoinsRejected: c.scopeJoinsRejected,
    versionRefused: c.versionRefused,
    unknownScope: c.unknownScope,
    notAMember: c.notAMember,
    deadLinkCloses: c.deadLinkCloses,
    pushesDropped: c.pushesDropped,
    gaps: c.gaps,
    subscriptions: e.subscriptionSlots,
    transports: src.transports.map((t) => ({ url: t.url, localPort: t.localPort ?? null, links: [...t.links].map((l) => l.description) })),
    modules: loadedModules(),
  };
}
