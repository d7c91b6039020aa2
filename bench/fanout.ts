/**
 * Fan-out on the v2 engine: one commit to the bench scope, 128 subscribers of it over TCP
 * loopback (128 engines in this process, one listener), time until every subscriber appended it. p99 over many commits (hdr histogram).
 */
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import { LatencyHistogram, QUICK, median, payload, plots, round, sleep } from './util.js';
import { BENCH_SCOPE, joined, makeEnginesV2, subscribedV2, tcpStarV2, teardownV2 } from './v2-setup.js';

const N = 128;

function allApplied(subs: EngineV2[], pubId: string): Promise<number> {
  let left = subs.length;
  return new Promise((resolve) => {
    for (const s of subs) {
      const on = (e: { from: string }): void => {
        if (e.from !== pubId) return;
        s.off('appended', on);
        if (--left === 0) resolve(performance.now());
      };
      s.on('appended', on);
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
    const [pub, ...subs] = await makeEnginesV2(N + 1, { tuning: { subscriptionCapacity: 128 } });
    const close = await tcpStarV2(pub!, subs);
    try {
      await Promise.all(subs.map((s) => joined(s, 60000)));
      await Promise.all(subs.map((s) => subscribedV2(pub!, s, 60000)));
      const h = new LatencyHistogram();
      for (let i = 0; i < commits + 10; i++) {
        const done = allApplied(subs, pub!.peerId);
        const t0 = performance.now();
        await pub!.commit(BENCH_SCOPE, payload(100, i));
        const t1 = await done;
        if (i >= 10) h.recordMs(t1 - t0);
        await sleep(2);
      }
      p50s.push(h.pMs(50));
      p99s.push(h.pMs(99));
      samples = samples.concat(h.samples);
    } finally {
      await teardownV2([pub!, ...subs], [close]);
    }
  }
  plots.latency_fanout_128 = samples;
  return { 'fanout_128.p50_ms': round(median(p50s)), 'fanout_128.p99_ms': round(median(p99s)) };
}
