/**
 * Broker failover: a 3-node NATS cluster with MQTT (and JetStream, which NATS' MQTT needs) on
 * every node, all on free ports. The gateway sits on node 1, the device on node 3 with the whole
 * node list in its URL; node 3 is killed while the gateway keeps committing. Pushes must resume
 * through another node within 10 s of the surviving nodes serving MQTT again (the bound
 * for our part; NATS' own JetStream leader election before that took 0.3-9 s here, so the whole
 * failover is bounded at 30 s), and nothing may be lost.
 *
 * While JetStream moves the stream leaders off node 3, node 1 may reset the gateway's
 * connection too (it did in about half of the runs): the gateway's links then close without a
 * close marker reaching the device, and only the gateway's live `online` on reconnect tells the
 * device to relink (see test/mqtt-half-drop.test.ts for that case alone).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { findBin, natsCluster, type NatsNode } from '../testkit/net.js';
import { fleetV2 } from '../testkit/engines-v2.js';
import { until } from '../testkit/wait.js';
import { silentLogger } from '../agent/node/log.js';

/**
 * Wait until MQTT works on every node: a QoS 1 message published on one node reaches a
 * subscriber on another. NATS creates its MQTT streams (replicated on all three nodes) once
 * JetStream has a leader; before that, connects fail, and a device that failed on node 3 would
 * already have moved to another node before the test kills node 3.
 */
async function mqttReady(cluster: NatsNode[]): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const pairs = cluster.map((n, i) => probe(n.mqttPort, cluster[(i + 1) % cluster.length]!.mqttPort));
    if ((await Promise.all(pairs)).every(Boolean)) return;
    if (performance.now() - t0 > 60_000) throw new Error('the NATS cluster did not serve MQTT within 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One round trip from a client on `pubPort` to one on `subPort`; false after 5 s, whatever hangs. */
async function probe(subPort: number, pubPort: number): Promise<boolean> {
  const opts = { host: '127.0.0.1', protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 3000 };
  const sub = mqtt.connect({ ...opts, port: subPort });
  const pub = mqtt.connect({ ...opts, port: pubPort });
  const topic = `probe/${Math.random().toString(16).slice(2)}`;
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5000);
      sub.on('message', (tp) => { if (tp === topic) { clearTimeout(timer); resolve(true); } });
      for (const c of [sub, pub]) c.on('error', () => {});
      sub.on('connect', () => sub.subscribe(topic, { qos: 1 }, (err) => {
        if (err) return;
        const send = (): void => { pub.publish(topic, 'x', { qos: 1 }); };
        if (pub.connected) send(); else pub.once('connect', send);
      }));
    });
  } finally {
    sub.end(true);
    pub.end(true);
  }
}

const CI = process.env.CI === 'true';
const have = findBin('nats-server') !== '';
if (!have && CI) t.fail('nats-server is required under CI=true');

t.test('the device fails over to another NATS node; pushes resume within 10 s, nothing lost', {
  skip: have ? false : 'nats-server not installed; skipped',
}, async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-nats-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cluster = await natsCluster(dir, 3);
  await Promise.all(cluster.map((n) => n.start()));
  tt.teardown(() => Promise.all(cluster.map((n) => n.kill())));
  await mqttReady(cluster);
  const [gw, dev] = await fleetV2(2);
  tt.teardown(() => Promise.all([gw!.close(), dev!.close()]));
  const list = cluster.map((n) => `127.0.0.1:${n.mqttPort}`).join(',');
  // JetStream may still be electing its leaders: the transports retry until MQTT works.
  await gw!.open(`mqtt-listen://127.0.0.1:${cluster[0]!.mqttPort}`);
  // random → 0.99: the device starts at the last node of its list (node 3).
  const devNodes: string[] = [];
  const logger = { ...silentLogger, debug(o: { node?: string }, m?: string) { if (m === 'broker connected' && o.node !== undefined) devNodes.push(o.node); } };
  await dev!.open(`mqtt://${list}/${gw!.id}`, { random: () => 0.99, logger });
  await until(() => dev!.up.has(gw!.id) && gw!.up.has(dev!.id), 60_000, 'link through the cluster (gateway on n1, device on n3)');
  const n3 = `127.0.0.1:${cluster[2]!.mqttPort}`;
  tt.same(devNodes, [n3], 'the device is connected to node 3, and only ever was');
  const first = await gw!.commit('before');
  await until(() => dev!.has(first), 20_000, 'push before the failover');

  // The gateway commits every 200 ms throughout; node 3 dies under the device.
  const committed: string[] = [];
  let stop = false;
  // A failed commit ends the loop (and is checked below) instead of crashing the test process
  // before its teardown has killed the brokers.
  let writeError: unknown;
  const writer = (async () => {
    while (!stop) {
      try {
        committed.push(await gw!.commit(`c${committed.length}`));
      } catch (err) {
        writeError = err;
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await new Promise((r) => setTimeout(r, 600));
  await cluster[2]!.kill();
  // Counted from the moment node 3 is dead: commits made while it was dying may still have made it.
  const killedAt = performance.now();
  // When the surviving nodes serve MQTT again (JetStream re-elects the leaders of NATS' MQTT
  // streams first: 0.3-9 s here), probed beside the device; our own part is measured from there.
  let brokerBackMs: number | undefined;
  void (async () => {
    while (brokerBackMs === undefined && !stop) {
      if (await probe(cluster[0]!.mqttPort, cluster[1]!.mqttPort)) brokerBackMs = performance.now() - killedAt;
      else await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const seenBefore = committed.length;
  await until(() => committed.length > seenBefore, 5000, 'a commit after the kill');
  await until(() => committed.slice(seenBefore).some((c) => dev!.has(c)), 30_000, 'a push committed after the kill arrives');
  const resumeMs = performance.now() - killedAt;
  tt.ok(devNodes.length > 1 && !devNodes.slice(1).includes(n3), `the device moved to another node (${devNodes.slice(1).join(', ')})`);
  await until(() => brokerBackMs !== undefined, 30_000, 'the surviving nodes serving MQTT');
  const ours = Math.max(0, resumeMs - brokerBackMs!); // the probe itself may see the cluster late
  tt.ok(ours <= 10_000, `pushes resumed ${Math.round(ours)} ms after the surviving nodes served MQTT again (bound 10 s)`);
  // NATS' leader election is not ours to bound tightly; the whole failover still has a ceiling.
  tt.ok(resumeMs <= 30_000, `pushes resumed ${Math.round(resumeMs)} ms after node 3 was killed (cluster back after ${Math.round(brokerBackMs!)} ms; bound 30 s)`);
  await new Promise((r) => setTimeout(r, 1000));
  stop = true;
  await writer;
  tt.equal(writeError, undefined, 'every commit succeeded');
  await until(() => committed.every((c) => dev!.has(c)), 30_000, 'every command reaches the device');
  tt.pass(`${committed.length} commands, none lost; failover + resume ${Math.round(performance.now() - killedAt)} ms until all were in`);
});
