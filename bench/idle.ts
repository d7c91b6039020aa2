/**
 * Idle link cost on the simulated 115200-baud UART (wire bytes from the link's counters), two
 * engines that hold the same graph and write nothing:
 * - 1 Hz polling: `subscribe: false`, next-poll hint pinned to 1 s; bytes over a window W,
 *   scaled to an hour;
 * - push subscription (engine defaults: 120 s subscriptions, anti-entropy poll every 60 s): bytes
 *   over W scaled to an hour, plus the periodic exchanges whose period exceeds W, each counted at
 *   its measured size: 60 anti-entropy polls and 37.5 renewals (every 0.8 × 120 s) per hour.
 * Both engines run the engine's default client backoff (the harness's fast test pacing caps
 * every wait at 200 ms and would poll ~4.5 Hz even while subscribed).
 * Both peers play both roles (each polls / subscribes to the other), so both directions count.
 */
import type { Engine } from '../agent/sync/engine.js';
import type { SimLink } from '../firmware-sim/sim-binding.js';
import { DEFAULT_BACKOFF } from '../agent/sync/pacing.js';
import { QUICK, makeEngines, payload, round, serialPair, sleep, subscribed, teardown, until } from './util.js';

const wire = (sim: SimLink): number => {
  const s = sim.stats();
  return s.aToB.written + s.bToA.written;
};

async function seed(a: Engine, b: Engine): Promise<void> {
  for (let i = 0; i < 20; i++) await a.commit(payload(100, i));
  await until(() => b.store.size === 20, 30000, 'initial sync', 20);
}

export async function benchIdle(): Promise<Record<string, number>> {
  const W = QUICK ? 6 : 15;
  // 1 Hz polling.
  const [a, b] = makeEngines(2, { subscribe: false, pollHint: { minMs: 1000, maxMs: 1000 }, backoff: DEFAULT_BACKOFF });
  const p = await serialPair(a!, b!);
  let pollHour: number;
  let perPoll: number;
  let pollsPerS: number;
  try {
    await seed(a!, b!);
    await sleep(1500);
    const s = b!.sessions.get(a!.peerId)!.stats;
    const f0 = s.framesOut;
    const w0 = wire(p.sim);
    await sleep(W * 1000);
    const bytes = wire(p.sim) - w0;
    // B's frames out = its own polls + its answers to A's polls = every exchange on the link.
    pollsPerS = (s.framesOut - f0) / W / 2;
    pollHour = (bytes / W) * 3600;
    perPoll = bytes / Math.max(1, s.framesOut - f0);
  } finally {
    await teardown([a!, b!], [p.close]);
  }
  // Push subscription, engine defaults.
  const [c, d] = makeEngines(2, { subscribe: { remainOpenS: 120, maxBytes: 1 << 20 }, subscribedPollS: 60, pollHint: { minMs: 1000, maxMs: 30000 }, backoff: DEFAULT_BACKOFF });
  const q = await serialPair(c!, d!);
  let pushHour: number;
  let renew: number;
  let windowBytes: number;
  try {
    await seed(c!, d!);
    await subscribed(c!, d!);
    await subscribed(d!, c!);
    await sleep(1500);
    const w0 = wire(q.sim);
    await sleep(W * 1000);
    windowBytes = wire(q.sim) - w0;
    const r0 = wire(q.sim);
    d!.sessions.get(c!.peerId)!.client.resubscribeSoon();
    await sleep(1500);
    renew = wire(q.sim) - r0;
    // Two peers, each with 60 anti-entropy polls and 37.5 renewals an hour.
    pushHour = (windowBytes / W) * 3600 + 2 * (60 * perPoll + (3600 / 96) * renew);
  } finally {
    await teardown([c!, d!], [q.close]);
  }
  return {
    'idle.poll_1hz_bytes_per_hour': Math.round(pollHour),
    'idle.push_bytes_per_hour': Math.round(pushHour),
    'idle.poll_exchange_bytes': round(perPoll, 1),
    'idle.polls_per_s_per_peer': round(pollsPerS, 2),
    'idle.renewal_bytes': renew,
    'idle.push_window_bytes': windowBytes,
    'idle.poll_1hz_vs_push_bytes_ratio': round(pollHour / pushHour, 1),
  };
}
