/**
 * A protocol-2 agent from a resolved config (`protocol: 2`):
 * lock, key, private data directory, the local HTTP API, every link attached, readiness, trust
 * reload, ordered shutdown — around an {@link EngineV2} holding one store per scope under
 * `<dataDir>/scopes/`. At start a v1 store (`<dataDir>/commands.log`) is moved to the read-only
 * scope `legacy/v1` (design v2-scopes.md §5.5) and each `scopes.create` entry whose name is not
 * held yet is created (a fleet scope on a gateway).
 */
import { fromHex, toHex } from '../../protocol/keys.js';
import type { Link } from '../link.js';
import { startApiServer, type ApiServer } from '../api/server.js';
import { attachTransport } from '../node/attach-transport.js';
import { createLoopHealth } from '../node/loop-health.js';
import { LOG_FILE } from '../store/disk-store.js';
import { legacyScopeId, migrateV1, openLegacyV1 } from '../store/scope-dir.js';
import { EngineV2 } from '../sync/engine-v2.js';
import { redactUrl } from '../transport/redact-url.js';
import { agentApiHostV2 } from './api-host-v2.js';
import { BootstrapProgress } from './bootstrap-progress.js';
import type { ResolvedConfig } from './config.js';
import { prepareDataDir, storeOpenFailure } from './data-dir.js';
import { loadKeyFile } from './keys.js';
import { shutdownSteps } from './shutdown-steps.js';
import { acquireLock } from './lock.js';
import type { JsonLogger } from './logger.js';
import { NodeScopes, type LegacyScope } from './node-scopes.js';
import { assertPrivateDir } from './path-safety.js';
import { transportOptionsFor, type RunningTransport, type StartNodeOptions } from './node-transports.js';
import { resolveScopes, type ResolvedScopes } from './scope-config.js';
import { takeSnapshotV2, type SnapshotV2 } from './snapshot-v2.js';
import { reloadTrust, type TrustReload } from './trust-reload.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const LOCK_WAIT_MS = 10_000;

/** A started protocol-2 agent: its engine, scopes, transports, API and lifecycle. */
export interface RunningNodeV2 {
  readonly protocol: 2;
  engine: EngineV2;
  /** Scope addressing: default scope, commits, feeds, lookups by id. */
  scopes: NodeScopes;
  /** `scopes` config with the role's defaults applied. */
  config: ResolvedScopes;
  transports: RunningTransport[];
  api: ApiServer | null;
  healthy(): boolean;
  snapshot(): SnapshotV2;
  /** Store open, every link attached, loop healthy, not closing. */
  ready(): boolean;
  /** Re-read `trust.keysFile` (removed peers' sessions are closed). @throws TrustFileError */
  reload(): TrustReload;
  /** Close the API, engine (sessions, then every scope store), transports, legacy store and lock. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start a protocol-2 agent.
 * @throws KeyFileError, DataDirError, LockedError, StoreOpenError, ScopeStoreError (two v1 logs),
 *   TransportError; everything opened before the failure is closed again.
 */
export async function startNodeV2(cfg: ResolvedConfig, role: 'agent' | 'gateway', log: JsonLogger, opts: StartNodeOptions = {}): Promise<RunningNodeV2> {
  const identity = loadKeyFile(cfg.keyFile);
  assertPrivateDir(cfg.dataDir);
  if (prepareDataDir(cfg.dataDir) === 'full') log.error({ dataDir: cfg.dataDir }, 'the disk is full: commits are refused until space is freed');
  const lock = await acquireLock(cfg.dataDir, { role, waitMs: LOCK_WAIT_MS, statusSocket: cfg.statusSocket });
  const cleanups = shutdownSteps(log, () => lock.release());
  const unwind = cleanups.unwind;
  try {
    const storeLog = log.child({ part: 'store' });
    if (existsSync(join(cfg.dataDir, LOG_FILE))) migrateV1(cfg.dataDir, storeLog);
    const v1 = await openLegacyV1(cfg.dataDir, { durability: cfg.durability, logger: storeLog }).catch((err: unknown) => Promise.reject(storeOpenFailure(err, cfg.dataDir)));
    let legacy: LegacyScope | null = null;
    if (v1) {
      cleanups.push(() => v1.close());
      // An empty v1 log has no first command to derive the local id from: no legacy scope then.
      if (v1.size > 0) legacy = { id: legacyScopeId(v1.idOf(0)), store: v1 };
    }
    const self = { peerId: identity.peerId, publicKeyHex: toHex(identity.publicKey) };
    const sc = resolveScopes(cfg, role, self);
    const engine = await EngineV2.open({
      identity,
      trust: { mode: cfg.trust.mode, keys: cfg.trust.keys.map(fromHex) },
      dataDir: cfg.dataDir,
      durability: cfg.durability,
      scopes: { join: sc.join, retention: sc.retention, max: sc.max, ...(sc.deviceScopes ? { deviceScopes: sc.deviceScopes } : {}) },
      logger: log.child({ part: 'engine' }),
      tuning: { subscriptionCapacity: cfg.subscriptions.capacity, maxRemainOpenS: cfg.subscriptions.maxRemainOpenS, subscribe: cfg.subscribe, pollMaxBytes: cfg.pollMaxBytes, elide: cfg.elideSignatures, elideSegment: cfg.elideSegmentBytes },
    }).catch((err: unknown) => Promise.reject(storeOpenFailure(err, cfg.dataDir)));
    let storeOpen = true;
    cleanups.push(() => {
      storeOpen = false;
      return engine.close();
    });
    for (const c of sc.create) {
      if (engine.scope(c.name) !== undefined) continue;
      await engine.createScope({ name: c.name, openRead: c.openRead, members: c.members.map((m) => ({ publicKey: fromHex(m.key), roles: m.roles })), retention: c.retention });
      log.info({ scope: c.name, openRead: c.openRead, members: c.members.length }, 'scope created');
    }
    engine.on('peer-up', (peer) => log.info({ peer }, 'peer up'));
    engine.on('peer-down', (peer) => log.info({ peer }, 'peer down'));
    engine.on('appended', (e) => log.debug({ scope: e.scope, from: e.from }, 'command appended'));
    const progress = new BootstrapProgress(engine, { log }); // its stop is pushed below
    const scopes = new NodeScopes(engine, legacy, sc.default);
    cleanups.push(() => scopes.close());
    const startedAt = Date.now();
    const transports: RunningTransport[] = [];
    const snapshot = (): SnapshotV2 =>
      takeSnapshotV2({ engine, legacy, role, startedAt, dataDir: cfg.dataDir, durability: cfg.durabilityText, transports, ...(opts.lastError ? { lastError: opts.lastError } : {}) });
    const health = createLoopHealth();
    cleanups.push(() => health.close());
    const closing = new AbortController();
    let attached = false;
    const checks = (): Record<string, boolean> => ({ store: storeOpen, links: attached, loop: health.healthy(), running: !closing.signal.aborted });
    const reload = (): TrustReload => reloadTrust(engine, cfg, log.child({ part: 'trust' }));
    let api: ApiServer | null = null;
    if (cfg.statusSocket !== '' || cfg.api.listen !== null) {
      const host = agentApiHostV2({ scopes, snapshot, checks, reload, closing: closing.signal, log: log.child({ part: 'api' }) });
      const tcp = cfg.api.listen !== null && cfg.api.token !== null ? { ...cfg.api.listen, token: cfg.api.token } : undefined;
      api = await startApiServer({ socketPath: cfg.statusSocket, ...(tcp ? { tcp } : {}), logger: log.child({ part: 'api' }) }, host);
      const server = api;
      cleanups.push(() => server.close());
      if (server.tcpPort !== null) log.info({ host: tcp?.host, port: server.tcpPort }, 'HTTP API listening on TCP');
    }
    // Shutdown closes the engine (sessions, then every scope store, with fsyncs) before the
    // transports: a dialer redialling meanwhile must not hand its new link to a closed engine.
    const sink = { peerId: engine.peerId, attach: (link: Link): void => void (closing.signal.aborted ? link.close() : engine.attach(link)) };
    for (const raw of cfg.links) {
      const { url, tls } = transportOptionsFor(raw, cfg);
      const tlog = log.child({ transport: redactUrl(raw) });
      const t = await attachTransport(url, sink, { logger: tlog, ...(tls ? { tls } : {}) });
      transports.push(t);
      cleanups.push(() => t.close());
      tlog.info({ url: t.url, ...(t.localPort !== undefined ? { port: t.localPort } : {}) }, 'transport open');
    }
    attached = true;
    // Unwound backwards: follow streams end and commits are refused first, then the engine closes
    // its sessions while the transports still carry their close markers (as v1, §7.6).
    cleanups.push(() => engine.close());
    // Before the engine closes its sessions: a bootstrap still running ends as 'shutdown', not 'peer down'.
    cleanups.push(() => progress.stop());
    cleanups.push(() => closing.abort());
    log.info({ self: identity.peerId, role, protocol: 2, scopes: engine.scopes().map((s) => s.name), legacy: legacy !== null, links: cfg.links.length, statusSocket: cfg.statusSocket || null }, 'agent started');
    let shutdown: Promise<void> | null = null;
    return {
      protocol: 2,
      engine,
      scopes,
      config: sc,
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
