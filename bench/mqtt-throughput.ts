/**
 * MQTT push throughput of the v2 engine through a real Mosquitto, measured on the MQTT path
 * rather than on ed25519.
 *
 * Per run, once the subscriber holds its push subscription to the bench scope (budget 64 MiB,
 * 600 s), the publisher signs a backlog of N commands of that scope (100-byte payloads, one chain
 * on the genesis; signed before the timed window: a scope id is new with each run's genesis) and
 * takes them in through its scope's ingest as if a peer had sent them (verified there, before
 * the window). t0 is the publisher's first `appended` event of the backlog: the push pass runs on
 * the next turn. Then:
 *
 * - (a) link level: time until the subscriber's link has received all the frame bytes the
 *   publisher sent it from t0 until every command was pushed (a `frame` listener prepended on
 *   the subscriber's link). Raw: mqtt.js publishes exactly the captured push frame bodies, QoS 1
 *   (as the transport does), from one client to another through the same broker, timed to the
 *   last message received. `mqtt.vs_raw_ratio` = raw time / syncwire link-level time. The target
 *   applies to this.
 * - (b) end to end: time until the subscriber appended (verified and stored) all N commands:
 *   `mqtt.applied_cmds_s`, `mqtt.applied_vs_raw_ratio` = raw time / end-to-end time. This is
 *   bounded by ed25519 verification at the subscriber (compare `bootstrap_100k.verify_ceiling_per_s`),
 *   not by MQTT.
 *
 * v1's `mqtt.link_ms_ingest_stubbed` (a subscriber refusing every command at its author check)
 * has no v2 counterpart: both ends check authors against the same scope membership, so the
 * publisher could not hold what the subscriber refuses cheaply; the figure is no longer measured.
 */
import mqtt from 'mqtt';
import type { Link } from '../agent/link.js';
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import { encodeCommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { QUICK, median, notes, payload, round, startMosquitto, until } from './util.js';
import { BENCH_SCOPE, gotAppended, joined, makeEnginesV2, mqttPairV2, sessionTo, subscribedV2, teardownV2 } from './v2-setup.js';

/** Where the backlog is said to come from (no session has this id). */
const LOADER = 'bench-backlog';

/** `n` data commands of the bench scope by `pub`, one chain on its genesis. */
function signChain(pub: EngineV2, n: number): Uint8Array[] {
  const host = pub.scope(BENCH_SCOPE)!;
  const out: Uint8Array[] = [];
  let parents: Uint8Array[] = [host.store.idOf(0).slice()];
  for (let i = 0; i < n; i++) {
    const c = encodeCommandV2(host.id, { parents, author: pub.identity.author, seq: i + 1, kind: CommandKind.Data, payload: payload(100, i) }, (m) => pub.identity.sign(m));
    out.push(c.bytes);
    parents = [c.id];
  }
  return out;
}

interface SwRun {
  /** ms from t0 until the push pass had handed every frame to the link. */
  plannedMs: number;
  linkSecs: number;
  appliedSecs: number;
  bodies: Uint8Array[];
  pushBytes: number;
}

/** One run: fresh engines over the broker, a backlog of `n` commands pushed. */
async function syncwireRun(port: number, n: number): Promise<SwRun> {
  const [pub, sub] = await makeEnginesV2(2, { tuning: { subscribe: { remainOpenS: 600, maxBytes: 64 << 20 } } });
  const subLinks: Link[] = [];
  const close = await mqttPairV2(pub!, sub!, port, undefined, { b: { peerId: sub!.peerId, attach: (l) => (subLinks.push(l), void sub!.attach(l)) } });
  try {
    await joined(sub!, 20000);
    await subscribedV2(pub!, sub!, 30000);
    const backlog = signChain(pub!, n); // before the window
    // Wire bodies with their plaintext (the engine's `frame-out`: on a sealed link, the MQTT
    // default, the message and what it was sealed into). Classified after the timed window, so
    // the capture adds no decoding to it.
    const sent: { wire: Uint8Array; plain: Uint8Array }[] = [];
    let capturing = false;
    const onSent = (to: string, message: Uint8Array, wire: Uint8Array): void => {
      if (capturing && to === sub!.peerId) sent.push({ wire, plain: message });
    };
    pub!.on('frame-out', onSent);
    // Prepended on the link: counts each frame on arrival, before the session decodes and ingests it.
    let rxBytes = 0;
    let rxAt = 0;
    let need = Infinity;
    let linkDone!: (t: number) => void;
    const linkP = new Promise<number>((r) => (linkDone = r));
    for (const l of subLinks) {
      l.prependListener('frame', (body: Uint8Array) => {
        if (!capturing && need === Infinity) return;
        rxBytes += body.length;
        rxAt = performance.now();
        if (rxBytes >= need) linkDone(rxAt);
      });
    }
    const applied = gotAppended(sub!, n, 120000, pub!.peerId);
    let t0 = 0;
    const onAppended = (e: { from: string }): void => {
      if (e.from !== LOADER || t0 !== 0) return;
      t0 = performance.now();
      rxBytes = 0;
      capturing = true;
    };
    pub!.on('appended', onAppended);
    const toSub = sessionTo(pub!, sub!.peerId)!;
    const pushed0 = toSub.stats.pushedCommands;
    await pub!.scope(BENCH_SCOPE)!.ingest.receive(backlog, LOADER, 'poll');
    pub!.off('appended', onAppended);
    await until(() => toSub.stats.pushedCommands - pushed0 >= n, 60000, 'push planned', 1);
    const planned = performance.now() - t0;
    capturing = false;
    pub!.off('frame-out', onSent);
    const isPush = (b: Uint8Array): boolean => {
      try {
        return decodeMessageV2(b).type === 'Push';
      } catch {
        return false; // the sealed close marker or a frame sealed outside the session's send
      }
    };
    const bodies = sent.filter((x) => isPush(x.plain)).map((x) => x.wire);
    need = sent.reduce((s, x) => s + x.wire.length, 0);
    if (rxBytes >= need) linkDone(rxAt);
    let guard: NodeJS.Timeout | undefined;
    const tLink = await Promise.race([linkP, new Promise<number>((_, rej) => (guard = setTimeout(() => rej(new Error('link bytes short')), 60000)))]);
    clearTimeout(guard);
    const tApplied = await applied;
    return { plannedMs: planned, linkSecs: (tLink - t0) / 1000, appliedSecs: (tApplied - t0) / 1000, bodies, pushBytes: bodies.reduce((s, b) => s + b.length, 0) };
  } finally {
    await teardownV2([pub!, sub!], [close]);
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
  const runs = QUICK ? 2 : 3; // v2: each run signs and ingests its own backlog (seconds of wall clock outside the window)
  const broker = await startMosquitto();
  try {
    await syncwireRun(broker.port, 500); // warm-up
    const link: number[] = [];
    const appl: number[] = [];
    const raw: number[] = [];
    const ratios: number[] = [];
    const appliedRatios: number[] = [];
    const frames: number[] = [];
    const bytes: number[] = [];
    const plannedMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      const s = await syncwireRun(broker.port, n);
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
    notes.push(
      `MQTT throughput (v2): backlog of ${n.toLocaleString('en-US')} pre-signed commands pushed in ${median(frames)} frames (${(median(bytes) / 1e6).toFixed(2)} MB); ` +
        `per run link-level ratios ${ratios.map((x) => x.toFixed(2)).join(', ')}, end-to-end ratios ${appliedRatios.map((x) => x.toFixed(3)).join(', ')}.`,
    );
    return {
      'mqtt.commands': n,
      'mqtt.frames_per_run': median(frames),
      'mqtt.push_mb_s': round(median(link) / 1e6, 2),
      'mqtt.raw_mb_s': round(median(raw) / 1e6, 2),
      'mqtt.push_planned_ms': round(median(plannedMs), 1),
      'mqtt.link_ms': round((median(bytes) / median(link)) * 1000, 1),
      'mqtt.vs_raw_ratio': round(median(ratios), 3),
      'mqtt.applied_cmds_s': Math.round(median(appl)),
      'mqtt.applied_vs_raw_ratio': round(median(appliedRatios), 3),
    };
  } finally {
    await broker.stop();
  }
}
