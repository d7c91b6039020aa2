/**
 * Idle link cost on the simulated 115200-baud UART (wire bytes from the link's counters), two
 * v2 engines that hold the same scope (the bench scope, 20 commands) and write nothing. Both peers play both roles (each polls /
 * subscribes to the other), so both directions count.
 *
 * - 1 Hz polling: `subscribe: false`, next-poll hint pinned to 1 s (this baseline is the one
 *   place a suite needs faster-than-default pacing: it is the thing being compared against);
 *   wire bytes over a window W, scaled to an hour.
 * - Push subscription, engine defaults (600 s subscriptions renewed at 80 % = every 480 s,
 *   anti-entropy poll every 300 s while subscribed). An hour is not simulated in real time: the
 *   periodic exchanges are counted at their measured wire sizes (one anti-entropy poll exchange
 *   and one renewal, each triggered by hand and measured on the line) and their periods — per
 *   peer 12 polls and 7.5 renewals an hour — plus whatever a real idle window of W seconds
 *   carries, scaled linearly to an hour. Every frame sent after both subscriptions are up is
 *   logged by message type. The connection phase (the 3 s after both subscriptions are up,
 *   until the line is quiet) is measured and charged once an hour (as if the link reconnected
 *   hourly: conservative); then a steady-state window of W seconds is scaled ×3600/W.
 */
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import { ENGINE_DEFAULTS } from '../agent/sync/engine-settings.js';
import type { SessionV2 } from '../agent/sync/session-v2.js';
import type { SimLink } from '../firmware-sim/uart/index.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { isSealed } from '../protocol/seal.js';
import { QUICK, notes, payload, round, sleep, until } from './util.js';
import { BENCH_SCOPE, makeEnginesV2, serialPairV2, sessionTo, subscribedV2, teardownV2 } from './v2-setup.js';

const wire = (sim: SimLink): number => {
  const s = sim.stats();
  return s.aToB.written + s.bToA.written;
};

const quiet = (sim: SimLink): boolean => {
  const s = sim.stats();
  return s.aToB.queued + s.aToB.inFlight + s.bToA.queued + s.bToA.inFlight === 0;
};

/** 20 commands at `a`, until `b` joined the scope and holds them (and the genesis). */
async function seed(a: EngineV2, b: EngineV2): Promise<void> {
  for (let i = 0; i < 20; i++) await a.commit(BENCH_SCOPE, payload(100, i));
  await until(() => b.scope(BENCH_SCOPE)?.joining === false && b.scope(BENCH_SCOPE)!.store.size === 21, 30000, 'initial sync', 20);
}

/**
 * Log every frame both engines send: [ms since start, sender, type, wire body bytes], from the
 * engines' `frame-out` events (the message and what went on the wire): a sealed frame is logged
 * as `sealed <type>` with its sealed size.
 */
function frameLog(es: EngineV2[]): { log: [number, string, string, number][]; t0: number } {
  const out = { log: [] as [number, string, string, number][], t0: performance.now() };
  const typeOf = (b: Uint8Array): string => {
    try {
      return decodeMessageV2(b).type;
    } catch {
      return '?';
    }
  };
  for (const [k, e] of es.entries()) {
    e.on('frame-out', (_peer, message, wire) => {
      const type = isSealed(wire) ? `sealed ${message.length === 0 ? '?' : typeOf(message)}` : typeOf(wire);
      out.log.push([Math.round(performance.now() - out.t0), k === 0 ? 'c' : 'd', type, wire.length]);
    });
  }
  return out;
}

const summary = (log: [number, string, string, number][], from: number, to: number): string => {
  const xs = log.filter(([t]) => t >= from && t < to);
  return xs.length === 0 ? 'nothing' : xs.map(([t, who, type, n]) => `${type} ${n} B from ${who} at +${(t / 1000).toFixed(2)} s`).join('; ');
};

export async function benchIdle(): Promise<Record<string, number>> {
  const W = QUICK ? 6 : 15;
  // 1 Hz polling.
  const [a, b] = await makeEnginesV2(2, { tuning: { subscribe: false, pollHint: { minMs: 1000, maxMs: 1000 } } });
  const p = await serialPairV2(a!, b!);
  let pollHour: number;
  let perPoll: number;
  let pollsPerS: number;
  try {
    await seed(a!, b!);
    await sleep(1500);
    const framesOut = (): number => sessionTo(b!, a!.peerId)!.stats.framesOut;
    const f0 = framesOut();
    const w0 = wire(p.sim);
    await sleep(W * 1000);
    const bytes = wire(p.sim) - w0;
    // B's frames out = its own polls + its answers to A's polls = every exchange on the link.
    const f1 = framesOut();
    pollsPerS = (f1 - f0) / W / 2;
    pollHour = (bytes / W) * 3600;
    perPoll = bytes / Math.max(1, f1 - f0);
  } finally {
    await teardownV2([a!, b!], [p.close]);
  }
  // Push subscription, engine defaults.
  const [c, d] = await makeEnginesV2(2);
  const q = await serialPairV2(c!, d!);
  const subS = ENGINE_DEFAULTS.subscribe.remainOpenS;
  const aeS = ENGINE_DEFAULTS.subscribedPollS;
  /** D's up session with C (its poll loop and subscription of the scope are driven by hand below). */
  const dToC = (): SessionV2 => sessionTo(d!, c!.peerId)!;
  const scopeId = (): Uint8Array => c!.scope(BENCH_SCOPE)!.id;
  let pushHour: number;
  let renew: number;
  let ae: number;
  let firstWindow: number;
  let steadyWindow: number;
  try {
    await seed(c!, d!);
    await subscribedV2(c!, d!, 30000);
    await subscribedV2(d!, c!, 30000);
    const fl = frameLog([c!, d!]);
    const tw = performance.now() - fl.t0;
    // Connection phase: whatever is still in flight once both subscriptions are up (the poll that
    // ends a first round is rescheduled to the anti-entropy period when the SubscribeAck lands).
    const w0 = wire(q.sim);
    await sleep(3000);
    await until(() => quiet(q.sim), 10000, 'quiet line');
    const w1 = wire(q.sim);
    const tw1 = performance.now() - fl.t0;
    // Steady state: W seconds.
    await sleep(W * 1000);
    const w2 = wire(q.sim);
    firstWindow = w1 - w0;
    steadyWindow = w2 - w1;
    const tEnd = performance.now() - fl.t0;
    notes.push(
      `Idle frame log (push subscription, engine defaults; times from both subscriptions up): connection phase (${((tw1 - tw) / 1000).toFixed(1)} s after both subscriptions were up): ` +
        `${summary(fl.log, tw, tw1)}. Steady-state window of ${W} s: ${summary(fl.log, tw1, tEnd)}. ` +
        'v2 engines, one scope.',
    );
    // One anti-entropy poll exchange, measured on the line.
    await until(() => quiet(q.sim), 10000, 'quiet line');
    const a0 = wire(q.sim);
    dToC().scoped.loopOf(scopeId())!.pollNow();
    await sleep(1000);
    await until(() => quiet(q.sim), 10000, 'quiet line');
    ae = wire(q.sim) - a0;
    // One renewal (Subscribe + SubscribeAck), measured on the line.
    const r0 = wire(q.sim);
    dToC().scoped.push.subscriptionOf(scopeId())!.request();
    await sleep(1000);
    await until(() => quiet(q.sim), 10000, 'quiet line');
    renew = wire(q.sim) - r0;
    // Two peers, each with 3600/aeS anti-entropy polls and 3600/(0.8 × subS) renewals an hour;
    // the first window's one-off traffic once an hour; steady-state window traffic scaled.
    pushHour = 2 * ((3600 / aeS) * ae + (3600 / (0.8 * subS)) * renew) + firstWindow + (steadyWindow / W) * 3600;
  } finally {
    await teardownV2([c!, d!], [q.close]);
  }
  return {
    'idle.poll_1hz_bytes_per_hour': Math.round(pollHour),
    'idle.push_bytes_per_hour': Math.round(pushHour),
    'idle.poll_exchange_bytes': round(perPoll, 1),
    'idle.polls_per_s_per_peer': round(pollsPerS, 2),
    'idle.anti_entropy_exchange_bytes': ae,
    'idle.renewal_bytes': renew,
    'idle.push_first_window_bytes': firstWindow,
    'idle.push_steady_window_bytes': steadyWindow,
    'idle.poll_1hz_vs_push_bytes_ratio': round(pollHour / pushHour, 1),
  };
}
