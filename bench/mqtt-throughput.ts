/**
 * Push throughput through a real Mosquitto: one engine commits N commands (100-byte payloads) as
 * fast as it can and the subscriber engine applies them; the frame bodies the publisher's link
 * sent are captured, and raw mqtt.js then publishes exactly those bodies (QoS 1, as the
 * transport does) from one client to another through the same broker. Ratio = syncwire
 * commands/s ÷ raw commands/s (same bytes, same broker, same run).
 */
import mqtt from 'mqtt';
import { QUICK, gotCommands, makeEngines, median, mqttPair, payload, round, startMosquitto, subscribed, teardown } from './util.js';

async function syncwireRun(port: number, n: number): Promise<{ secs: number; bodies: Uint8Array[] }> {
  const [pub, sub] = makeEngines(2);
  const close = await mqttPair(pub!, sub!, port);
  try {
    await subscribed(pub!, sub!);
    const link = pub!.sessions.get(sub!.peerId)!.link;
    const bodies: Uint8Array[] = [];
    const send = link.send.bind(link);
    link.send = (b: Uint8Array): boolean => (bodies.push(b), send(b));
    const done = gotCommands(sub!, n, 60000);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      await pub!.commit(payload(100, i));
      if (i % 16 === 15) await new Promise((r) => setImmediate(r));
    }
    const t1 = await done;
    link.send = send;
    return { secs: (t1 - t0) / 1000, bodies };
  } finally {
    await teardown([pub!, sub!], [close]);
  }
}

async function rawRun(port: number, bodies: Uint8Array[]): Promise<number> {
  const url = `mqtt://127.0.0.1:${port}`;
  const a = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `bench-raw-a-${process.pid}` });
  const b = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `bench-raw-b-${process.pid}` });
  try {
    const topic = `syncwire/raw-bench/${process.pid}`;
    await b.subscribeAsync(topic, { qos: 1 });
    let got = 0;
    const done = new Promise<number>((resolve) => b.on('message', () => ++got === bodies.length && resolve(performance.now())));
    const t0 = performance.now();
    for (const body of bodies) a.publish(topic, Buffer.from(body.buffer, body.byteOffset, body.byteLength), { qos: 1 });
    const t1 = await done;
    return (t1 - t0) / 1000;
  } finally {
    await Promise.all([a.endAsync(), b.endAsync()]);
  }
}

export async function benchMqttThroughput(): Promise<Record<string, number>> {
  const n = QUICK ? 2000 : 5000;
  const runs = QUICK ? 2 : 3;
  const broker = await startMosquitto();
  try {
    await syncwireRun(broker.port, 300); // warm-up
    const sw: number[] = [];
    const raw: number[] = [];
    const ratios: number[] = [];
    const frames: number[] = [];
    for (let r = 0; r < runs; r++) {
      const s = await syncwireRun(broker.port, n);
      const rt = await rawRun(broker.port, s.bodies);
      sw.push(n / s.secs);
      raw.push(n / rt);
      ratios.push(rt / s.secs);
      frames.push(s.bodies.length);
    }
    return {
      'mqtt.syncwire_cmds_s': Math.round(median(sw)),
      'mqtt.raw_msgs_s': Math.round(median(raw)),
      'mqtt.frames_per_run': median(frames),
      'mqtt.vs_raw_ratio': round(median(ratios), 3),
    };
  } finally {
    await broker.stop();
  }
}
