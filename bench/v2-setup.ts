/**
 * Protocol-v2 engine setups for the benchmarks: v2 engines on memory scope stores trusting each
 * other, the first of which creates one open-read scope ({@link BENCH_SCOPE}) that the others join
 * when it is offered (the one graph a v1 suite synced becomes this one scope), joined by the same
 * real transports as in util.ts (TCP loopback, MQTT through the broker, serial on the simulated
 * UART), and the waits a suite needs: peer up, scope joined, push subscription granted, commands
 * appended.
 */
import { attachTransport, type AttachedTransport, type LinkSink } from '../agent/node/attach-transport.js';
import { EngineV2, type EngineV2Options } from '../agent/sync/engine-v2.js';
import type { SessionV2 } from '../agent/sync/session-v2.js';
import type { TransportOptions } from '../agent/transport/registry.js';
import { SimRegistry, createSimBinding, createSimLink, type SimLink } from '../firmware-sim/uart/index.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, type Identity } from '../protocol/keys.js';
import type { SealPolicy } from '../protocol/seal.js';
import { until, type Closer } from './util.js';

/** The scope every two-or-more-engine suite syncs. */
export const BENCH_SCOPE = 'fleet/bench';

/** v2 tuning (the v1 engine's knobs the v2 session reuses). */
export type TuningV2 = NonNullable<EngineV2Options['tuning']>;

/** Options of {@link makeEnginesV2}. */
export interface EnginesV2Options {
  /** Tuning of every engine (default: the engine's default pacing, as util.ts explains for v1). */
  tuning?: TuningV2;
  /** Identities to use (default: fresh ones). */
  ids?: Identity[];
  /**
   * Give every engine `W` on the scope (at most 16 engines: a genesis names 1..16 members), so
   * any of them may commit; default only the first (the creator) writes.
   */
  allWrite?: boolean;
  /** Engines (by index) that take covered commands without their signatures (engine setting `elide`: devices). Default none. */
  elide?: readonly number[];
}

const RWA = Role.Read | Role.Write | Role.Admin;

/**
 * Benchmark engines run the engine's default pacing (600 s subscriptions renewed at 80 %, an
 * anti-entropy poll every 300 s while subscribed, slow-start poll budgets up to 64 KiB, default
 * backoff and hints). The tests' fast pacing distorts every figure it touches; a suite that truly
 * needs other pacing passes `tuning` and says why (only `idle`'s 1 Hz polling baseline does).
 *
 * `n` v2 engines on memory stores trusting each other; the first creates {@link BENCH_SCOPE}
 * (open read), the others join it when it is offered. Nothing is linked yet.
 */
export async function makeEnginesV2(n: number, o: EnginesV2Options = {}): Promise<EngineV2[]> {
  const ids = o.ids ?? Array.from({ length: n }, () => generateIdentity());
  const keys = ids.map((i) => i.publicKey);
  const engines = await Promise.all(
    ids.map((identity, i) =>
      EngineV2.open({
        identity, trust: { mode: 'list', keys },
        scopes: i === 0 ? { max: Infinity } : { join: [BENCH_SCOPE] },
        ...(o.tuning === undefined && o.elide?.includes(i) !== true ? {} : { tuning: { ...o.tuning, ...(o.elide?.includes(i) === true ? { elide: true } : {}) } }),
      }),
    ),
  );
  const members = o.allWrite === true ? ids.map((id, i) => ({ publicKey: id.publicKey, roles: i === 0 ? RWA : Role.Read | Role.Write })) : [{ publicKey: ids[0]!.publicKey, roles: RWA }];
  await engines[0]!.createScope({ name: BENCH_SCOPE, members, openRead: true });
  return engines;
}

/** The authenticated session of `e` to `peerId`, if any. */
export function sessionTo(e: EngineV2, peerId: string): SessionV2 | undefined {
  return e.sessions().find((s) => s.authenticated && s.peerId === peerId);
}

/** Resolve once `e` has an authenticated session to `peerId`. */
export function peerUpV2(e: EngineV2, peerId: string, timeoutMs = 10000): Promise<void> {
  if (sessionTo(e, peerId) !== undefined) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const on = (id: string): void => {
      if (id !== peerId) return;
      clearTimeout(t);
      e.off('peer-up', on);
      resolve();
    };
    const t = setTimeout(() => (e.off('peer-up', on), reject(new Error(`peer ${peerId} not up after ${timeoutMs} ms`))), timeoutMs);
    e.on('peer-up', on);
  });
}

/** Resolve once `e` holds `scope` (joined: its genesis arrived). */
export function joined(e: EngineV2, timeoutMs = 15000, scope = BENCH_SCOPE): Promise<void> {
  return until(() => e.scope(scope)?.joining === false, timeoutMs, `${e.peerId} joined ${scope}`);
}

/** Resolve once `sub` holds a granted push subscription to `scope` at `pub` (pushes will flow pub → sub). */
export async function subscribedV2(pub: EngineV2, sub: EngineV2, timeoutMs = 15000, scope = BENCH_SCOPE): Promise<void> {
  await until(() => {
    const id = pub.scope(scope)?.id;
    const mine = sessionTo(sub, pub.peerId);
    const theirs = sessionTo(pub, sub.peerId);
    if (id === undefined || mine === undefined || theirs === undefined) return false;
    return mine.scoped.push.subscriptionOf(id)?.state === 'subscribed' && pub.subscribedBy(theirs, id);
  }, timeoutMs, `${sub.peerId} subscribed to ${scope} at ${pub.peerId}`, 10);
}

/**
 * Resolve with `performance.now()` when `e` appended at least `n` more commands received from
 * peers (`from` one peer id when given), or reject after `timeoutMs`.
 */
export function gotAppended(e: EngineV2, n: number, timeoutMs = 30000, from?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const on = (ev: { from: string }): void => {
      if (ev.from === 'local' || (from !== undefined && ev.from !== from)) return;
      if (++got < n) return;
      clearTimeout(t);
      e.off('appended', on);
      resolve(performance.now());
    };
    const t = setTimeout(() => (e.off('appended', on), reject(new Error(`only ${got}/${n} commands after ${timeoutMs} ms`))), timeoutMs);
    e.on('appended', on);
  });
}

/**
 * Resolve with `performance.now()` once `e` holds as many commands of `scope` as `source` does
 * (checked every 5 ms: a cold peer's bulk sync), or reject after `timeoutMs`.
 */
export async function caughtUp(e: EngineV2, source: EngineV2, timeoutMs: number, scope = BENCH_SCOPE): Promise<number> {
  await until(() => {
    const want = source.scope(scope)?.store.size;
    return want !== undefined && e.scope(scope)?.joining === false && e.scope(scope)!.store.size >= want;
  }, timeoutMs, `${e.peerId} caught up on ${scope}`, 5);
  return performance.now();
}

const QUIET: TransportOptions = { reconnectBaseMs: 50, reconnectMaxMs: 1000 };
const sealQuery = (seal: SealPolicy | undefined, sep: '?' | '&' = '?'): string => (seal === undefined ? '' : `${sep}seal=${seal}`);

/** Join `server` (listener) and each of `clients` (dialers) over TCP loopback; `seal` on both ends (default: the transport's, `require`). */
export async function tcpStarV2(server: EngineV2, clients: EngineV2[], seal?: SealPolicy): Promise<Closer> {
  server.setMaxListeners(0);
  // Every client dials from 127.0.0.1 at once: give each a pre-auth slot (the default is 4 per address).
  const l = await attachTransport(`tcp-listen://127.0.0.1:0${sealQuery(seal)}`, server, { ...QUIET, maxConnections: 1024, maxPreAuth: 1024, maxPreAuthPerAddress: 1024 });
  const dialers: AttachedTransport[] = [];
  for (const c of clients) dialers.push(await attachTransport(`tcp://127.0.0.1:${l.localPort}${sealQuery(seal)}`, c, QUIET));
  await Promise.all(clients.map((c) => Promise.all([peerUpV2(server, c.peerId, 60000), peerUpV2(c, server.peerId, 60000)])));
  return async () => {
    await Promise.all(dialers.map((d) => d.close()));
    await l.close();
  };
}

/** Join two engines through an MQTT broker (two dialers, one link each way); `seal` as for {@link tcpStarV2}; `sinks` to see each link before its engine does. */
export async function mqttPairV2(a: EngineV2, b: EngineV2, port: number, seal?: SealPolicy, sinks: { a?: LinkSink; b?: LinkSink } = {}): Promise<Closer> {
  const ta = await attachTransport(`mqtt://127.0.0.1:${port}/${b.peerId}${sealQuery(seal)}`, sinks.a ?? a, QUIET);
  const tb = await attachTransport(`mqtt://127.0.0.1:${port}/${a.peerId}${sealQuery(seal)}`, sinks.b ?? b, QUIET);
  await Promise.all([peerUpV2(a, b.peerId), peerUpV2(b, a.peerId)]);
  return async () => {
    await ta.close();
    await tb.close();
  };
}

let simCounter = 0;

/** Join two engines over the serial transport on a simulated UART; the sim link for its counters. `seal` as for {@link tcpStarV2} (the serial default is `prefer`). */
export async function serialPairV2(a: EngineV2, b: EngineV2, baudRate = 115200, seal?: SealPolicy, sinks: { a?: LinkSink; b?: LinkSink } = {}): Promise<{ sim: SimLink; close: Closer }> {
  const registry = new SimRegistry();
  const k = simCounter++;
  const sim = createSimLink({ pathA: `/dev/benchV2A${k}`, pathB: `/dev/benchV2B${k}`, registry, baudRate });
  const binding = createSimBinding(registry);
  const ta = await attachTransport(`serial:/dev/benchV2A${k}?baud=${baudRate}${sealQuery(seal, '&')}`, sinks.a ?? a, { ...QUIET, binding });
  const tb = await attachTransport(`serial:/dev/benchV2B${k}?baud=${baudRate}${sealQuery(seal, '&')}`, sinks.b ?? b, { ...QUIET, binding });
  await Promise.all([peerUpV2(a, b.peerId, 20000), peerUpV2(b, a.peerId, 20000)]);
  return {
    sim,
    close: async () => {
      await ta.close();
      await tb.close();
      sim.dispose();
    },
  };
}

/**
 * Close the transports then the engines, ignoring errors (teardown must not fail a run). In this
 * order because a v2 engine refuses links once closed (`attach` throws), and a dialer's redial
 * timer may still offer one.
 */
export async function teardownV2(engines: EngineV2[], closers: Closer[]): Promise<void> {
  await Promise.allSettled(closers.map((c) => c()));
  await Promise.allSettled(engines.map((e) => e.close()));
}
