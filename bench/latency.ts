/**
 * Push latency on the v2 engine, commit to the bench scope → appended at the subscriber (its
 * `appended` event), once the subscriber holds a push subscription to the scope,
 * over TCP loopback, MQTT through a real Mosquitto, and serial on the simulated 115200-baud UART.
 * One commit at a time (no queueing), after a warm-up of the process and of each link; p50/p99 from an hdr histogram per run,
 * the median over runs reported.
 */
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import { LatencyHistogram, PROCESS_WARM_UP, QUICK, median, payload, plots, round, sleep, startMosquitto, type Closer } from './util.js';
import { BENCH_SCOPE, gotAppended, joined, makeEnginesV2, mqttPairV2, serialPairV2, subscribedV2, tcpStarV2, teardownV2 } from './v2-setup.js';

const PAYLOAD = 100;

async function measure(pub: EngineV2, sub: EngineV2, n: number, gapMs: number): Promise<LatencyHistogram> {
  const h = new LatencyHistogram();
  for (let i = 0; i < n; i++) {
    const got = gotAppended(sub, 1, 10000);
    const t0 = performance.now();
    await pub.commit(BENCH_SCOPE, payload(PAYLOAD, i));
    const t1 = await got;
    h.recordMs(t1 - t0);
    if (gapMs > 0) await sleep(gapMs);
  }
  return h;
}

async function one(kind: 'tcp' | 'mqtt_mosquitto' | 'serial_115200', port: number, n: number, warm: number, gapMs: number): Promise<LatencyHistogram> {
  const [pub, sub] = await makeEnginesV2(2);
  let close: Closer;
  if (kind === 'tcp') close = await tcpStarV2(pub!, [sub!]);
  else if (kind === 'mqtt_mosquitto') close = await mqttPairV2(pub!, sub!, port);
  else close = (await serialPairV2(pub!, sub!)).close;
  try {
    await joined(sub!, 20000);
    await subscribedV2(pub!, sub!, 30000);
    await measure(pub!, sub!, warm, gapMs);
    return await measure(pub!, sub!, n, gapMs);
  } finally {
    await teardownV2([pub!, sub!], [close]);
  }
}

export async function benchLatency(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const broker = await startMosquitto();
  const runs = QUICK ? 2 : 3;
  const cases: [kind: 'tcp' | 'mqtt_mosquitto' | 'serial_115200', n: number, warm: number, gap: number][] = [
    ['tcp', QUICK ? 300 : 1000, 50, 1],
    ['mqtt_mosquitto', QUICK ? 300 : 1000, 50, 1],
    ['serial_115200', QUICK ? 40 : 100, 5, 10],
  ];
  try {
    await one('tcp', broker.port, PROCESS_WARM_UP, 0, 1); // unmeasured: warms the process (util.ts)
    for (const [kind, n, warm, gap] of cases) {
      const p50: number[] = [];
      const p99: number[] = [];
      let all: number[] = [];
      for (let r = 0; r < runs; r++) {
        const h = await one(kind, broker.port, n, warm, gap);
        p50.push(h.pMs(50));
        p99.push(h.pMs(99));
        all = all.concat(h.samples);
      }
      out[`push_latency_ms.${kind}.p50`] = round(median(p50));
      out[`push_latency_ms.${kind}.p99`] = round(median(p99));
      plots[`latency_${kind}`] = all;
    }
  } finally {
    await broker.stop();
  }
  return out;
}
