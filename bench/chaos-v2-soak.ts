/**
 * The protocol-v2 chaos soak, in one process: a gateway EngineV2 (disk store, device scopes on,
 * `fleet/acme` open-read with the agents as writers), agents (EngineV2 on disk stores, over TCP
 * through a proxy that cuts every connection; closed and reopened on their data dirs mid-run),
 * v2 simulated devices (small rings, so gaps and horizons happen; in-process seams cut and
 * re-attached), garbage and truncated frames injected on every kind of link, and a hostile peer.
 * Then the faults stop and everything settles; the figures say what was lost, what converged and
 * what crossed a scope boundary. The fault schedule follows `seed`; the engines' own randomness
 * and the event loop's timing do not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachTransport } from '../agent/node/attach-transport.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import type { Link } from '../agent/link.js';
import { SimDeviceV2 } from '../firmware-sim/device-v2/index.js';
import { encodeCbor } from '../protocol/cbor.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { fromHex, generateIdentity, toHex } from '../protocol/keys.js';
import { prng } from '../testkit/prng.js';
import { sleep, waitFor } from '../testkit/wait.js';
import { FLEET, HostilePeer, PACE_V2, SoakAgent, expectedCommitError } from './chaos-v2-actors.js';
import { holds, lostCommits, retainedIds } from './chaos-v2-check.js';
import { batchFigures } from './chaos-v2-batch-figures.js';
import { ResettingProxy } from './chaos/resetting-proxy.js';
import { DeviceSeam, FaultyLink, type FaultCounters } from './chaos-v2-links.js';

/** How one soak runs. */
export interface SoakV2Config {
  seconds: number;
  seed: number;
  agents: number;
  devices: number;
  /** Ring size (commands) of every device scope; small makes horizons and gaps. */
  deviceRing: number;
  /** Longest settle after the faults stop, ms. */
  settleMs: number;
  /** How many agents (the last ones) run with the engine setting `elide` (§10.7). Default 1. */
  elideAgents?: number;
  log: (msg: string) => void;
}

/** What one soak measured; the report checks the invariants on it. */
export type SoakV2Figures = Record<string, number | boolean | string | Record<string, number>>;

const cmd = (...xs: (string | number)[]): Uint8Array => encodeCbor(xs);

/** Run the soak. Never throws for a fault it injected; a crash is counted. */
export async function runSoakV2(cfg: SoakV2Config): Promise<SoakV2Figures> {
  const rnd = prng(cfg.seed);
  const crashes: string[] = [];
  const onCrash = (err: unknown): void => void crashes.push(String(err instanceof Error ? err.stack : err).slice(0, 300));
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-chaos-v2-'));
  const faults: FaultCounters = { garbage: 0, truncated: 0 };
  const gi = generateIdentity();
  const agentIds = Array.from({ length: cfg.agents }, () => generateIdentity());
  const hi = generateIdentity();
  const devices = Array.from({ length: cfg.devices }, () => new SimDeviceV2({
    trustedKeys: [gi.publicKey], joinScopes: [FLEET], ringSizes: { device: cfg.deviceRing, other: cfg.deviceRing }, telemetryMs: 500,
  }));
  const gw = await EngineV2.open({
    identity: gi, dataDir: join(dir, 'gateway'), tuning: PACE_V2, scopes: { max: Infinity, deviceScopes: {} },
    trust: { mode: 'list', keys: [...agentIds.map((a) => a.publicKey), hi.publicKey, ...devices.map((d) => d.identity.publicKey)] },
  });
  await gw.createScope({
    name: FLEET, openRead: true,
    members: [{ publicKey: gi.publicKey, roles: Role.Read | Role.Write | Role.Admin }, ...agentIds.map((a) => ({ publicKey: a.publicKey, roles: Role.Read | Role.Write }))],
  });
  const scopeOf = new Map<string, string>(); // command id hex → the gateway's scope of it
  gw.on('appended', (e) => scopeOf.set(toHex(e.id), e.scope));
  const gwAcked = new Map<string, Set<string>>();
  const gwLinks = new Set<FaultyLink>();
  const listener = await attachTransport('tcp-listen://127.0.0.1:0', {
    peerId: gw.peerId,
    attach: (l: Link) => {
      const f = new FaultyLink(l);
      gwLinks.add(f);
      f.once('close', () => gwLinks.delete(f));
      gw.attach(f);
    },
  });
  const proxy = new ResettingProxy(listener.localPort!);
  await proxy.listen();
  const elideFrom = cfg.agents - Math.min(cfg.agents, cfg.elideAgents ?? 1);
  const agents = agentIds.map((id, i) => new SoakAgent(`agent-${i + 1}`, id, gi.publicKey, join(dir, `agent-${i + 1}`), `tcp://127.0.0.1:${proxy.port}`, i >= elideFrom));
  for (const a of agents) await a.open();
  const hostile = new HostilePeer(hi, gi.publicKey, join(dir, 'hostile'), `tcp://127.0.0.1:${listener.localPort!}`, agents[0]!.own);
  await hostile.open();
  // The wire toward the hostile peer (plaintext, through the tap): never an entry for the victim's scope.
  let hostileOffered = 0;
  gw.on('frame-out', (peer, m) => {
    const victim = gw.scope(hostile.victimScope);
    if (peer !== hostile.identity.peerId || m.length === 0 || victim === undefined) return;
    const msg = decodeMessageV2(m);
    if (msg.type === 'Scopes' && msg.open.some((e) => toHex(e[1]) === toHex(victim.id))) hostileOffered++;
  });

  // Devices: their acknowledged commits, what reached them, foreign commands.
  const devAcked = new Map<SimDeviceV2, Set<string>>();
  let devForeign = 0;
  const seams = new Map<SimDeviceV2, DeviceSeam | null>();
  const plug = (d: SimDeviceV2): void => {
    const s = new DeviceSeam(d);
    seams.set(d, s);
    gw.attach(s);
  };
  for (const d of devices) {
    const own = `device/${d.peerId}`;
    devAcked.set(d, new Set());
    d.on('commit', (_scope, c) => devAcked.get(d)!.add(toHex(c.id)));
    d.on('command', (scope, c) => {
      const at = scopeOf.get(toHex(c.id));
      if ((scope !== own && scope !== FLEET) || (at !== undefined && at !== scope)) devForeign++;
    });
    plug(d);
    d.start();
  }

  // Fault schedules (seeded).
  let stopping = false;
  const timers: NodeJS.Timeout[] = [];
  const later = (ms: number, f: () => void): void => void timers.push(setTimeout(() => !stopping && f(), ms));
  const every = (lo: number, hi: number, f: () => void): void => {
    const go = (): void => later(lo + rnd.int(hi - lo), () => (f(), go()));
    go();
  };
  let seamCuts = 0;
  every(1500, 5000, () => proxy.reset());
  for (const d of devices) {
    every(2000, 8000, () => {
      const s = seams.get(d);
      if (s === null || s === undefined) return;
      seamCuts++;
      seams.set(d, null);
      void s.close();
      // Mostly short cuts; one in three long enough for more than a ring of commands to pass it by.
      later(rnd.chance(0.33) ? 3000 + rnd.int(3000) : 300 + rnd.int(1700), () => plug(d));
    });
  }
  every(150, 600, () => {
    const pool: { inject: FaultyLink['inject'] }[] = [...gwLinks, ...agents.flatMap((a) => [...a.links]), ...[...seams.values()].filter((s): s is DeviceSeam => s !== null)];
    if (pool.length > 0) pool[rnd.int(pool.length)]!.inject(rnd, faults);
  });
  const restarting = new Set<SoakAgent>();
  every(3000, 9000, () => {
    const a = agents[rnd.int(agents.length)]!;
    if (restarting.has(a)) return;
    restarting.add(a);
    void a.crash().then(() => sleep(200 + rnd.int(800))).then(() => a.open()).catch(onCrash).finally(() => restarting.delete(a));
  });

  // Writers: each agent to its device scope and the fleet scope; the gateway orders and configs; the hostile.
  let gwRefused = 0;
  const gwCommit = async (scope: string, payload: Uint8Array): Promise<void> => {
    try {
      const id = toHex(await gw.commit(scope, payload));
      gwAcked.set(scope, (gwAcked.get(scope) ?? new Set()).add(id));
    } catch (err) {
      gwRefused++;
      if (!expectedCommitError(err)) onCrash(err);
    }
  };
  let n = 0;
  const writers = [
    ...agents.map(async (a) => {
      while (!stopping) {
        await a.commitTo(rnd.chance(0.7) ? a.own : FLEET, cmd(a.name, ++n));
        await sleep(100 + rnd.int(400));
      }
    }),
    (async () => {
      while (!stopping) {
        const i = rnd.int(devices.length + agents.length + 1);
        const d = devices[i];
        if (d !== undefined) await gwCommit(`device/${d.peerId}`, cmd(d.peerId, 'order', ++n));
        else await gwCommit(agents[i - devices.length]?.own ?? FLEET, cmd('gateway', ++n));
        await sleep(100 + rnd.int(300));
      }
    })(),
    (async () => {
      // Config bursts: more fleet commands at once than a device ring holds (gaps, horizons).
      while (!stopping) {
        await sleep(3000 + rnd.int(4000));
        for (let k = 0; k < 2 * cfg.deviceRing && !stopping; k++) await gwCommit(FLEET, cmd('config', ++n));
      }
    })(),
    (async () => {
      while (!stopping) {
        await hostile.attempt(cmd('hostile', ++n));
        await sleep(500 + rnd.int(1000));
      }
    })(),
  ];
  let hostileHeldVictim = false;
  const t0 = Date.now();
  let lastLog = t0;
  while (Date.now() - t0 < cfg.seconds * 1000) {
    await sleep(250);
    hostileHeldVictim ||= hostile.holdsVictim;
    if (Date.now() - lastLog > 30_000) {
      lastLog = Date.now();
      cfg.log(`chaos-v2: ${Math.round((Date.now() - t0) / 1000)} s, gateway scopes ${gw.scopes().map((s) => s.commands).join('/')}, restarts ${agents.reduce((s, a) => s + a.restarts, 0)}`);
    }
  }

  // Stop the faults and the writers; every link back; one marker per scope from the gateway.
  stopping = true;
  for (const t of timers) clearTimeout(t);
  await Promise.all(writers);
  while (restarting.size > 0) await sleep(50);
  for (const a of agents) if (a.engine === null) await a.open();
  for (const d of devices) {
    d.stop();
    if (seams.get(d) === null) plug(d);
  }
  const settle0 = Date.now();
  // Device telemetry already committed reaches the gateway first, so the markers' parents cover it.
  const gwHas = (scope: string, h: string): boolean => holds(gw, scope, h);
  await waitFor(() => devices.every((d) => [...devAcked.get(d)!].every((h) => gwHas(`device/${d.peerId}`, h))), cfg.settleMs, 100);
  const markers = new Map<string, string>();
  for (const scope of [FLEET, ...devices.map((d) => `device/${d.peerId}`), ...agents.map((a) => a.own)]) {
    const id = toHex(await gw.commit(scope, cmd('marker', scope)));
    markers.set(scope, id);
    gwAcked.set(scope, (gwAcked.get(scope) ?? new Set()).add(id));
  }
  const devHolds = (d: SimDeviceV2, scope: string): boolean => d.scopes.some((s) => s.state === 'held' && s.name === scope && s.retains(fromHex(markers.get(scope)!)));
  const agentConverged = (a: SoakAgent): boolean => [a.own, FLEET].every((s) => retainedIds(a.engine, s).join() === retainedIds(gw, s).join());
  const deviceConverged = (d: SimDeviceV2): boolean => devHolds(d, `device/${d.peerId}`) && devHolds(d, FLEET);
  const hostileConverged = (): boolean => retainedIds(hostile.engine, FLEET).join() === retainedIds(gw, FLEET).join();
  const converged = await waitFor(() => agents.every(agentConverged) && devices.every(deviceConverged) && hostileConverged(), cfg.settleMs, 100);
  const settleMs = Date.now() - settle0;

  // Lost: an acknowledged commit missing where it belongs (the gateway always; an agent's replica of its scopes).
  const lostBy = lostCommits(gw, agents, new Map(devices.map((d) => [`device/${d.peerId}`, devAcked.get(d)!])), gwAcked);
  const lost = Object.values(lostBy).reduce((s, x) => s + x, 0);
  if (!converged || lost > 0) {
    cfg.log(`chaos-v2: NOT converged or lost: lost ${JSON.stringify(lostBy)}; agents ${agents.map((a) => `${a.name}=${String(agentConverged(a))}`).join(' ')}; devices ${devices.map((d) => String(deviceConverged(d))).join('/')}; hostile fleet ${String(hostileConverged())}`);
  }
  const hostileAccepted = [...hostile.localWrites].filter((h) => scopeOf.has(h)).length;
  const sum = (f: (d: SimDeviceV2) => number): number => devices.reduce((s, d) => s + f(d), 0);
  const acked = (m: Map<string, Set<string>>): number => [...m.values()].reduce((s, x) => s + x.size, 0);
  const figures: SoakV2Figures = {
    seconds: cfg.seconds, seed: cfg.seed, agents: cfg.agents, devices: cfg.devices, device_ring: cfg.deviceRing,
    acknowledged: agents.reduce((s, a) => s + acked(a.acked), 0) + sum((d) => devAcked.get(d)!.size) + acked(gwAcked),
    agent_commits: agents.reduce((s, a) => s + acked(a.acked), 0),
    device_commits: sum((d) => devAcked.get(d)!.size),
    gateway_commits: acked(gwAcked),
    lost, lost_by: lostBy, converged, settle_ms: settleMs,
    foreign_commands: devForeign + agents.reduce((s, a) => s + a.foreign, 0) + hostile.foreign,
    hostile_write_attempts: hostile.writeAttempts,
    hostile_writes_accepted: hostileAccepted,
    hostile_held_victim_scope: hostileHeldVictim,
    hostile_offered_victim_scope: hostileOffered,
    crashes: crashes.length, crash_samples: crashes.slice(0, 3).join(' | '),
    unexpected_commit_errors: agents.reduce((s, a) => s + a.unexpectedErrors.length, 0),
    agent_restarts: agents.reduce((s, a) => s + a.restarts, 0),
    tcp_cuts: proxy.resets, device_link_cuts: seamCuts,
    garbage_frames: faults.garbage, truncated_frames: faults.truncated,
    commits_refused: agents.reduce((s, a) => s + a.commitsRefused, 0) + gwRefused + sum((d) => d.stats.commitsRefused),
    device_gaps: sum((d) => d.stats.gaps), device_horizons_adopted: sum((d) => d.stats.adopted),
    device_bad_frames: sum((d) => d.stats.badFrames), device_seal_failures: sum((d) => d.stats.sealFailures),
    device_rejected_commands: sum((d) => d.stats.rejectedCommands), device_orders: sum((d) => d.stats.orders),
    gateway_scopes: gw.scopes().length, gateway_commands: gw.scopes().reduce((s, x) => s + x.commands, 0),
    ...batchFigures(gw, agents, hostile.engine, [gi.publicKey, hi.publicKey, ...agentIds.map((a) => a.publicKey), ...devices.map((d) => d.identity.publicKey)]),
  };
  // Teardown.
  await hostile.close();
  for (const a of agents) await a.close();
  for (const s of seams.values()) await s?.close();
  await listener.close();
  await proxy.close();
  await gw.close();
  rmSync(dir, { recursive: true, force: true });
  await sleep(100);
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  return figures;
}
