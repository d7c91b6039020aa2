/**
 * The status snapshot a running agent serves on its status socket (and `syncwire status`
 * prints): links, peers with their counters, heads, subscriptions in use, pacing, and which
 * heavy modules this process has loaded (the proof that transports load lazily).
 */
import { createRequire } from 'node:module';
import { toHex } from '../../protocol/keys.js';
import type { Link } from '../link.js';
import type { Engine } from '../sync/engine.js';
import { deepestFirst } from '../sync/graph-walk.js';
import type { SyncClientSnapshot } from '../sync/sync-client.js';

/** One configured transport and the links it currently holds. */
export interface TransportInfo {
  url: string;
  /** Bound port of a listener (port 0 resolved), else null. */
  localPort: number | null;
  links: string[];
}

/** One peer session. */
export interface PeerInfo {
  id: string;
  link: string;
  authenticated: boolean;
  /** We hold a push subscription with this peer (it pushes to us). */
  subscribed: boolean;
  /** This peer holds a slot in our subscription table (we push to it). */
  subscriber: boolean;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  badFrames: number;
  pushedCommands: number;
  polledCommands: number;
  /** The link is up and sealed (PROTOCOL.md §7.2). */
  sealed: boolean;
  /** Sealed frames that opened under no key (forged, altered, truncated): dropped. */
  sealFailures: number;
  /** Genuine sealed frames seen before or too old for the replay window: dropped. */
  replays: number;
  /** Unsealed frames other than Hello and Auth on a sealed link: dropped. */
  unsealedDropped: number;
  /** Re-handshakes completed on the link (§7.5). */
  rehandshakes: number;
  /** Our requester state towards this peer: rounds, poll in flight, timeouts in a row, budget. */
  sync: SyncClientSnapshot;
}

/** What `syncwire status --json` prints. */
export interface Snapshot {
  peerId: string;
  role: string;
  pid: number;
  uptimeS: number;
  dataDir: string;
  durability: string;
  commands: number;
  /** Full hex ids of the heads, deepest first. */
  heads: string[];
  transports: TransportInfo[];
  peers: PeerInfo[];
  subscriptions: { used: number; capacity: number };
  pacing: { commitRatePerS: number; nextPollHintMs: number };
  ingest: { received: number; appended: number; duplicates: number; orphaned: number; rejected: number };
  /** Whether mqtt.js / serialport are loaded in this process. */
  modules: { mqtt: boolean; serialport: boolean };
}

/** Context the snapshot needs beyond the engine. */
export interface SnapshotSource {
  engine: Engine;
  role: string;
  startedAt: number;
  dataDir: string;
  durability: string;
  transports: { url: string; localPort: number | undefined; links: ReadonlySet<Link> }[];
}

const req = createRequire(import.meta.url);

/** Which heavy modules are in this process's CommonJS cache (mqtt and serialport are CJS). */
export function loadedModules(): { mqtt: boolean; serialport: boolean } {
  const keys = Object.keys(req.cache);
  return {
    mqtt: keys.some((k) => /[\\/]node_modules[\\/]mqtt[\\/]/.test(k)),
    serialport: keys.some((k) => /[\\/]node_modules[\\/](serialport|@serialport[\\/]bindings-cpp)[\\/]/.test(k)),
  };
}

/** Take a snapshot. */
export function takeSnapshot(src: SnapshotSource): Snapshot {
  const e = src.engine;
  const now = Date.now();
  const sessions = [...e.sessions.values(), ...e.pending];
  const round = (n: number): number => Math.round(n * 1000) / 1000;
  return {
    peerId: e.peerId,
    role: src.role,
    pid: process.pid,
    uptimeS: Math.round((now - src.startedAt) / 1000),
    dataDir: src.dataDir,
    durability: src.durability,
    commands: e.store.size,
    heads: deepestFirst(e.store, e.store.heads(), 64).map((h) => toHex(e.store.idOf(h))),
    transports: src.transports.map((t) => ({ url: t.url, localPort: t.localPort ?? null, links: [...t.links].map((l) => l.description) })),
    peers: sessions.map((s) => ({
      id: s.peerId || '(handshake)',
      link: s.link.description,
      authenticated: s.authenticated,
      subscribed: s.subscribed,
      subscriber: s.authenticated && e.table.find(s.peerId) >= 0,
      sealed: s.sealed,
      ...s.stats,
      sync: s.client.snapshot(),
    })),
    subscriptions: { used: e.table.size, capacity: e.table.capacity },
    pacing: { commitRatePerS: round(e.commitRate.perSecond(now)), nextPollHintMs: e.pollHintMs() },
    ingest: { ...e.ingest.stats },
    modules: loadedModules(),
  };
}
