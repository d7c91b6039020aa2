/**
 * Fan-out: one commit, 128 subscribers over TCP loopback (128 engines in this process, one
 * listener), time until every subscriber applied it. p99 over many commits (hdr histogram).
 */
import type { Engine } from '../agent/sync/engine.js';
import { LatencyHistogram, QUICK, makeEngines, median, payload, plots, round, sleep, subscribed, tcpStar, teardown } from './util.js';

const N = 128;

function allApplied(subs: Engine[], pubId: string): Promise<number> {
  let left = subs.length;
  return new Promise((resolve) => {
    for (const s of subs) {
      const on = (_h: number[], from: string): void => {
        if (from !== pubId) return;
        s.off('commands', on);
        if (--left === 0) resolve(performance.now());
      };
      s.on('commands', on);
    }
  });
}

export async function benchFanout(): Promise<Record<string, number>> {
  const runs = QUICK ? 1 : 3;
  const commits = QUICK ? 60 : 150;
  const p50s: number[] = [];
  const p99s: number[] = [];
  let samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const [pub, ...subs] = makeEngines(N + 1, { subscriptionCapacity: 128 });
    const close = await tcpStar(pub!, subs);
    try {
      await Promise.all(subs.map((s) => subscribed(pub!, s, 60000)));
      const h = new LatencyHistogram();
      for (let i = 0; i < commits + 10; i++) {
        const done = allApplied(subs, pub!.peerId);
        const t0 = performance.now();
        await pub!.commit(payload(100, i));
        const t1 = await done;
        if (i >= 10) h.recordMs(t1 - t0);
        await sleep(2);
      }
      p50s.push(h.pMs(50));
      p99s.push(h.pMs(99));
      samples = samples.concat(h.samples);
    } finally {
      await teardown([pub!, ...subs], [close]);
    }
  }
  plots.latency_fanout_128 = samples;
  return { 'fanout_128.p50_ms': round(median(p50s)), 'fanout_128.p99_ms': round(median(p99s)) };
}
