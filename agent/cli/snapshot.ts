/**
 * The status snapshot a running agent serves (`syncwire status --json`, `GET /v1/status`): the
 * engine's part ({@link Engine.snapshot}: commands, heads, peers, subscriptions, pacing, ingest,
 * latency) plus what only the process knows — role, pid, uptime, data directory, durability,
 * version, store bytes, RSS, the last error, its transports, and which heavy modules it has loaded
 * (the proof that transports load lazily). docs/STATUS.md documents every field.
 */
import { packageVersion } from './version.js';
import type { Link } from '../link.js';
import { DiskStore } from '../store/disk-store.js';
import type { Engine } from '../sync/engine.js';
import type { EngineSnapshot, PeerSnapshot } from '../sync/engine-snapshot.js';
import { loadedModules, type LastError, type TransportInfo } from './process-info.js';

export { loadedModules, type LastError, type TransportInfo } from './process-info.js';

/** One peer session (the engine's view). */
export type PeerInfo = PeerSnapshot;

/** What `syncwire status --json` prints. */
export interface Snapshot extends EngineSnapshot {
  role: string;
  pid: number;
  uptimeS: number;
  dataDir: string;
  durability: string;
  /** The package version (package.json). */
  version: string;
  /** Bytes of the command log (a disk store), null for an in-memory store. */
  storeBytes: number | null;
  /** Resident set size of the process, bytes. */
  rssBytes: number;
  lastError: LastError | null;
  transports: TransportInfo[];
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
  /** The last error worth an operator's attention (e.g. a refused commit), if the process keeps one. */
  lastError?: () => LastError | null;
}

/** Take a snapshot. */
export function takeSnapshot(src: SnapshotSource): Snapshot {
  const e = src.engine.snapshot();
  const store = src.engine.store;
  return {
    peerId: e.peerId,
    role: src.role,
    pid: process.pid,
    uptimeS: Math.round((Date.now() - src.startedAt) / 1000),
    dataDir: src.dataDir,
    durability: src.durability,
    version: packageVersion(),
    storeBytes: store instanceof DiskStore ? store.bytes : null,
    rssBytes: process.memoryUsage.rss(),
    lastError: src.lastError?.() ?? null,
    commands: e.commands,
    heads: e.heads,
    transports: src.transports.map((t) => ({ url: t.url, localPort: t.localPort ?? null, links: [...t.links].map((l) => l.description) })),
    peers: e.peers,
    subscriptions: e.subscriptions,
    trust: e.trust,
    pacing: e.pacing,
    ingest: e.ingest,
    latency: e.latency,
    modules: loadedModules(),
  };
}
