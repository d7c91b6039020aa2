/**
 * Assembling a running agent from a resolved config: lock the data directory, load the key, open
 * the disk store, build the engine, serve the local HTTP API (unix socket, optional TCP), open
 * every link URL and attach each link it yields to the engine (`attachTransport`; each scheme's
 * module is loaded lazily), and shut all of it down in order on request. `agent`, `gateway` and
 * the library's `startAgent` are all this; they differ in defaults and checks.
 */
import { fromHex } from '../../protocol/keys.js';
import type { Link } from '../link.js';
import { attachTransport, type AttachedTransport } from '../node/attach-transport.js';
import type { Logger } from '../node/log.js';
import { transportOptionsFor } from './node-transports.js';
import { DiskStore } from '../store/disk-store.js';
import { Engine } from '../sync/engine.js';
import { redactUrl } from '../transport/redact-url.js';
import type { ResolvedConfig } from './config.js';
import { loadKeyFile } from './keys.js';
import { shutdownSteps } from './shutdown-steps.js';
import { assertPrivateDir } from './path-safety.js';
import { prepareDataDir, storeOpenFailure } from './data-dir.js';
import { acquireLock, type Lock } from './lock.js';
import type { JsonLogger } from './logger.js';
import { BootstrapProgress } from './progress.js';
import { takeSnapshot, type Snapshot, type SnapshotSource } from './snapshot.js';
import type { FeedSource } from '../api/command-feed.js';
import { startApiServer, type ApiServer } from '../api/server.js';
import { createLoopHealth } from '../node/loop-health.js';
import { agentApiHost, engineFeed } from './api-host.js';
import { reloadTrust, type TrustReload } from './trust-reload.js';

/** How long a start waits for the data directory's lock while another process holds it. */
const LOCK_WAIT_MS = 10_000;

/** A transport and the links it currently holds. */
export type RunningTransport = AttachedTransport;

/** A started agent. */
export interface RunningNode {
  engine: Engine;
  /** The engine's command feed (one engine listener for every follower). */
  feed: FeedSource;
  store: DiskStore;
  transports: RunningTransport[];
  /** The local HTTP API (unix socket, and TCP when `api.listen` is set); null with `statusSocket: ""` and no listener. */
  api: ApiServer | null;
  /** Whether the event loop runs freely (no stall in the last 10 s): `/readyz` and the systemd watchdog. */
  healthy(): boolean;
  snapshot(): Snapshot;
  /** Whether `/readyz` would answer ready now: store open, every link attached, loop healthy, not closing. */
  ready(): boolean;
  /**
   * Re-read `trust.keysFile` and apply it (SIGHUP, `POST /v1/reload`).
   * @throws TrustFileError on a bad file; the trust in force is unchanged then.
   */
  reload(): TrustReload;
  /** Close the API (ending follow streams), transports, engine, store (flush + fsync) and lock. Idempotent. */
  close(): Promise<void>;
}

/** Extra inputs of {@link startNode}. */
export interface StartNodeOptions {
  /** The last error-level log line, for the status snapshot. */
  lastError?: SnapshotSource['lastError'];
}


/**
 * Start an agent.
 * @throws KeyFileError, DataDirError, LockedError, StoreOpenError, TransportError (bad URL, address in use);
 *   everything opened before the failure is closed again.
 */
export async function startNode(cfg: ResolvedConfig, role: string, log: JsonLogger, opts: StartNodeOptions = {}): Promise<RunningNode> {
  const identity = loadKeyFile(cfg.keyFile);
  // Before anything (write probe, lock, store, status socket) is created in it.
  assertPrivateDir(cfg.dataDir);
  if (prepareDataDir(cfg.dataDir) === 'full') log.error({ dataDir: cfg.dataDir }, 'the disk is full: commits are refused until space is freed');
  // Waits out a short-lived holder (a `syncwire commit`, an agent finishing its shutdown).
  const lock: Lock = await acquireLock(cfg.dataDir, { role: role === 'gateway' ? 'gateway' : 'agent', waitMs: LOCK_WAIT_MS, statusSocket: cfg.statusSocket });
  const cleanups = shutdownSteps(log, () => lock.release());
  const unwind = cleanups.unwind;
  try {
    const store = await DiskStore.open(cfg.dataDir, { durability: cfg.durability, logger: log.child({ part: 'store' }) }).catch(
      (err: unknown) => Promise.reject(storeOpenFailure(err, cfg.dataDir)),
    );
    let storeOpen = true;
    cleanups.push(() => {
      storeOpen = false;
      return store.close();
    });
    // The store logged each repair itself; damage is at error level there.
    if (store.openReport.truncatedBytes > 0) log.warn({ truncatedBytes: store.openReport.truncatedBytes }, 'command log had a torn tail; cut');
    const engine = new Engine({
      identity,
      store,
      trust: { mode: cfg.trust.mode, keys: cfg.trust.keys.map(fromHex) },
      subscriptionCapacity: cfg.subscriptions.capacity,
      maxRemainOpenS: cfg.subscriptions.maxRemainOpenS,
      subscribe: cfg.subscribe,
      pollMaxBytes: cfg.pollMaxBytes,
      logger: log.child({ part: 'engine' }),
    });
    cleanups.push(() => engine.close());
    engine.on('peer-up', (peer) => log.info({ peer }, 'peer up'));
    engine.on('peer-down', (peer) => log.info({ peer }, 'peer down'));
    engine.on('commands', (handles, from) => log.debug({ from, count: handles.length, total: store.size }, 'commands added'));
    // A bar on a terminal; off one (systemd, containers) start, progress and end are log lines.
    const progress = new BootstrapProgress(engine, process.stderr, { log });
    cleanups.push(() => progress.stop());
    const startedAt = Date.now();
    const transports: RunningTransport[] = [];
    const snapshot = (): Snapshot =>
      takeSnapshot({
        engine,
        role,
        startedAt,
        dataDir: cfg.dataDir,
        durability: cfg.durabilityText,
        transports,
        ...(opts.lastError ? { lastError: opts.lastError } : {}),
      });
    const feed = engineFeed(engine);
    const health = createLoopHealth();
    cleanups.push(() => health.close());
    // Aborted first on shutdown: follow streams end and commits are refused before the engine goes.
    const closing = new AbortController();
    let attached = false;
    const checks = (): Record<string, boolean> => ({
      store: storeOpen,
      links: attached,
      loop: health.healthy(),
      running: !closing.signal.aborted,
    });
    const reload = (): TrustReload => reloadTrust(engine, cfg, log.child({ part: 'trust' }));
    let api: ApiServer | null = null;
    if (cfg.statusSocket !== '' || cfg.api.listen !== null) {
      const host = agentApiHost({ engine, feed, snapshot, checks, reload, closing: closing.signal, log: log.child({ part: 'api' }) });
      const tcp = cfg.api.listen !== null && cfg.api.token !== null ? { ...cfg.api.listen, token: cfg.api.token } : undefined;
      api = await startApiServer({ socketPath: cfg.statusSocket, ...(tcp ? { tcp } : {}), logger: log.child({ part: 'api' }) }, host);
      const server = api;
      cleanups.push(() => server.close());
      if (server.tcpPort !== null) log.info({ host: tcp?.host, port: server.tcpPort }, 'HTTP API listening on TCP');
    }
    // Each scheme's builder (mqtt.js, serialport) is imported only when a URL of that scheme is opened.
    for (const raw of cfg.links) {
      const { url, tls } = transportOptionsFor(raw, cfg);
      const tlog = log.child({ transport: redactUrl(raw) });
      // Warnings reach the log through `logger` (no onWarn: the `warn` event would log them twice).
      const t = await attachTransport(url, engine, { logger: tlog, ...(tls ? { tls } : {}), onLink: (link) => logLifecycle(link, tlog) });
      transports.push(t);
      cleanups.push(() => t.close());
      tlog.info({ url: t.url, ...(t.localPort !== undefined ? { port: t.localPort } : {}) }, 'transport open');
    }
    attached = true;
    // Unwinding runs backwards: the engine closes its sessions before the transports go, so each
    // sealed link still carries its sealed close marker (§7.6). engine.close() is idempotent.
    cleanups.push(() => engine.close());
    cleanups.push(() => closing.abort());
    log.info({ self: identity.peerId, role, commands: store.size, links: cfg.links.length, statusSocket: cfg.statusSocket || null }, 'agent started');
    let shutdown: Promise<void> | null = null;
    return {
      engine,
      feed,
      store,
      transports,
      api,
      healthy: () => health.healthy(),
      snapshot,
      ready: () => Object.values(checks()).every(Boolean),
      reload,
      close: () => (shutdown ??= unwind()),
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * Log a link's lifecycle. Per-link lines are debug until the peer authenticated (then the engine
 * logs "peer up"): a flood of unauthenticated sockets must not become a flood of log lines;
 * listeners summarise it.
 */
function logLifecycle(link: Link, log: Logger): void {
  let authenticated = false;
  link.once('authenticated', () => (authenticated = true));
  link.once('close', (err) => {
    const fields = { link: link.description, ...(err ? { err: err.message } : {}) };
    if (authenticated) log.info(fields, 'link down');
    else log.debug(fields, 'link down');
  });
  log.debug({ link: link.description }, 'link up');
}
