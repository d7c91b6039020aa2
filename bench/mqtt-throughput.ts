/**
 * MQTT push throughput through a real Mosquitto, measured on the MQTT path rather than on ed25519.
 *
 * The publisher holds a backlog of N pre-signed commands (100-byte payloads, one chain by a third
 * author, signed once before any timing). After the subscriber's subscription is up (budget
 * 64 MiB, 600 s), the commands are appended to the publisher's MemoryStore, every subscriber slot
 * is marked dirty and one push pass is scheduled: t0. Then:
 *
 * - (a) link level: time until the subscriber's link has received all the push frame bytes the
 *   publisher sent (a `frame` listener prepended on the subscriber's link). Raw: mqtt.js
 *   publishes exactly the captured push frame bodies, QoS 1 (as the transport does), from one
 *   client to another through the same broker, timed to the last message received.
 *   `mqtt.vs_raw_ratio` = raw time / syncwire link-level time. The target applies to this.
 * - (b) end to end: time until the subscriber applied (verified and stored) all N commands:
 *   `mqtt.applied_cmds_s`, `mqtt.applied_vs_raw_ratio` = raw time / end-to-end time. This is
 *   bounded by ed25519 verification at the subscriber (compare `bootstrap_100k.verify_ceiling_per_s`),
 *   not by MQTT.
 */
import mqtt from 'mqtt';
import { encodeCommand, type Command } from '../protocol/command.js';
import { decodeMessage } from '../protocol/envelope.js';
import { generateIdentity, type Identity } from '../protocol/keys.js';
import { QUICK, gotCommands, makeEngines, median, mqttPair, notes, payload, round, startMosquitto, subscribed, teardown, until } from './util.js';
import { peerOf } from '../testkit/engines.js';

function signChain(author: Identity, n: number): Command[] {
  const cmds: Command[] = [];
  let parents: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = encodeCommand({ parents, author: author.author, seq: i + 1, payload: payload(100, i) }, author.sign);
    cmds.push(c);
    parents = [c.id];
  }
  return cmds;
}

interface SwRun {
  /** ms from t0 until the push pass had handed every frame to the link. */
  plannedMs: number;
  linkSecs: number;
  appliedSecs: number;
  bodies: Uint8Array[];
  pushBytes: number;
}

/**
 * One run. `stubIngest` (diagnostic only): the subscriber does not trust the commands' author, so
 * its ingest refuses each at the author check (decode only, no signature verification), and the
 * link-level time shows the transport, framing and message decode without command verification
 * work competing on the event loop; `appliedSecs` is then NaN.
 */
async function syncwireRun(port: number, author: Identity, cmds: Command[], stubIngest = false): Promise<SwRun> {
  const opts = { subscribe: { remainOpenS: 600, maxBytes: 64 << 20 } };
  const [pub, sub] = stubIngest ? makeEngines(2, opts) : makeEngines(3, opts, [generateIdentity(), generateIdentity(), author]);
  const close = await mqttPair(pub!, sub!, port);
  try {
    await subscribed(pub!, sub!);
    // Wire bodies with their plaintext (the engine's `frame-out`: on a sealed link, the MQTT
    // default, the message and what it was sealed into). Classified after the timed window, so
    // the capture adds no decoding to it.
    const sent: { wire: Uint8Array; plain: Uint8Array }[] = [];
    const onSent = (to: string, message: Uint8Array, wire: Uint8Array): void => {
      if (to === sub!.peerId) sent.push({ wire, plain: message });
    };
    pub!.on('frame-out', onSent);
    // The engine's `frame-in` fires on arrival, before the session decodes and ingests the frame.
    let rxBytes = 0;
    let rxAt = 0;
    let need = Infinity;
    let linkDone!: (t: number) => void;
    const linkP = new Promise<number>((r) => (linkDone = r));
    const onFrame = (from: string, body: Uint8Array): void => {
      if (from !== pub!.peerId) return;
      rxBytes += body.length;
      rxAt = performance.now();
      if (rxBytes >= need) linkDone(rxAt);
    };
    sub!.on('frame-in', onFrame);
    const applied = stubIngest ? new Promise<number>(() => undefined) : gotCommands(sub!, cmds.length, 120000);
    const handles = cmds.map((c) => pub!.store.append(c));
    rxBytes = 0;
    const t0 = performance.now();
    pub!.announce(handles);
    // The push pass is synchronous: once every command is planned, the frames are all sent.
    await until(() => (peerOf(pub!, sub!.peerId)?.pushedCommands ?? 0) >= cmds.length, 60000, 'push planned', 1);
    const planned = performance.now() - t0;
    pub!.off('frame-out', onSent);
    const isPush = (b: Uint8Array): boolean => {
      try {
        return decodeMessage(b).type === 'Push';
      } catch {
        return false; // the sealed close marker or a frame sealed outside sendFrame
      }
    };
    const bodies = sent.filter((x) => isPush(x.plain)).map((x) => x.wire);
    need = sent.reduce((s, x) => s + x.wire.length, 0);
    if (rxBytes >= need) linkDone(rxAt);
    let guard: NodeJS.Timeout | undefined;
    const tLink = await Promise.race([linkP, new Promise<number>((_, rej) => (guard = setTimeout(() => rej(new Error('link bytes short')), 60000)))]);
    clearTimeout(guard);
    const tApplied = stubIngest ? NaN : await applied;
    sub!.off('frame-in', onFrame);
    return { plannedMs: planned, linkSecs: (tLink - t0) / 1000, appliedSecs: (tApplied - t0) / 1000, bodies, pushBytes: bodies.reduce((s, b) => s + b.length, 0) };
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
  const n = QUICK ? 5000 : 20000;
  const runs = QUICK ? 3 : 5;
  const author = generateIdentity();
  const cmds = signChain(author, n); // signed before any timing
  const broker = await startMosquitto();
  try {
    await syncwireRun(broker.port, author, cmds.slice(0, 500)); // warm-up
    const link: number[] = [];
    const appl: number[] = [];
    const raw: number[] = [];
    const ratios: number[] = [];
    const appliedRatios: number[] = [];
    const frames: number[] = [];
    const bytes: number[] = [];
    const plannedMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      const s = await syncwireRun(broker.port, author, cmds);
      const rt = await rawRun(broker.port, s.bodies);
      link.push(s.pushBytes / s.linkSecs);
      appl.push(n / s.appliedSecs);
      raw.push(s.pushBytes / rt);
      ratios.push(rt / s.linkSecs);
      appliedRatios.push(rt / s.appliedSecs);
      frames.push(s.bodies.length);
      bytes.push(s.pushBytes);
      plannedMs.push(s.plannedMs);
    }
    const stub = await syncwireRun(broker.port, author, cmds, true);
    notes.push(
      `MQTT throughput: backlog of ${n.toLocaleString('en-US')} pre-signed commands pushed in ${median(frames)} frames (${(median(bytes) / 1e6).toFixed(2)} MB); ` +
        `per run link-level ratios ${ratios.map((x) => x.toFixed(2)).join(', ')}, end-to-end ratios ${appliedRatios.map((x) => x.toFixed(3)).join(', ')}.`,
    );
    return {
      'mqtt.commands': n,
      'mqtt.frames_per_run': median(frames),
      'mqtt.push_mb_s': round(median(link) / 1e6, 2),
      'mqtt.raw_mb_s': round(median(raw) / 1e6, 2),
      'mqtt.push_planned_ms': round(median(plannedMs), 1),
      'mqtt.link_ms': round((median(bytes) / median(link)) * 1000, 1),
      'mqtt.link_ms_ingest_stubbed': round(stub.linkSecs * 1000, 1),
      'mqtt.vs_raw_ratio': round(median(ratios), 3),
      'mqtt.applied_cmds_s': Math.round(median(appl)),
      'mqtt.applied_vs_raw_ratio': round(median(appliedRatios), 3),
    };
  } finally {
    await broker.stop();
  }
}
