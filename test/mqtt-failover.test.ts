/**
 * Broker failover: a 3-node NATS cluster with MQTT (and JetStream, which NATS' MQTT needs) on
 * every node, all on free ports. The gateway sits on node 1, the device on node 3 with the whole
 * node list in its URL; node 3 is killed while the gateway keeps committing. Pushes must resume
 * through another node within 10 s (the issue's bound), and nothing may be lost.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBin, natsCluster } from './helpers/brokers.js';
import { nodes, until } from './helpers/mqtt-nodes.js';

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
  const [gw, dev] = nodes(2);
  tt.teardown(() => Promise.all([gw!.close(), dev!.close()]));
  const list = cluster.map((n) => `127.0.0.1:${n.mqttPort}`).join(',');
  // JetStream may still be electing its leaders: the transports retry until MQTT works.
  await gw!.open(`mqtt-listen://127.0.0.1:${cluster[0]!.mqttPort}`);
  // random → 0.99: the device starts at the last node of its list (node 3).
  await dev!.open(`mqtt://${list}/${gw!.id}`, { random: () => 0.99 });
  await until(() => dev!.up.has(gw!.id) && gw!.up.has(dev!.id), 60_000, 'link through the cluster (gateway on n1, device on n3)');
  const first = await gw!.commit('before');
  await until(() => dev!.has(first), 20_000, 'push before the failover');

  // The gateway commits every 200 ms throughout; node 3 dies under the device.
  const committed: string[] = [];
  let stop = false;
  const writer = (async () => {
    while (!stop) {
      committed.push(await gw!.commit(`c${committed.length}`));
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await new Promise((r) => setTimeout(r, 600));
  const killedAt = performance.now();
  const seenBefore = committed.length;
  await cluster[2]!.kill();
  await until(() => committed.length > seenBefore, 5000, 'a commit after the kill');
  const resumeMs = await until(() => committed.slice(seenBefore).some((c) => dev!.has(c)), 30_000, 'a push committed after the kill arrives');
  tt.ok(resumeMs <= 10_000, `pushes resumed ${Math.round(resumeMs)} ms after node 3 was killed (bound 10 s)`);
  await new Promise((r) => setTimeout(r, 1000));
  stop = true;
  await writer;
  await until(() => committed.every((c) => dev!.has(c)), 30_000, 'every command reaches the device');
  tt.pass(`${committed.length} commands, none lost; failover + resume ${Math.round(performance.now() - killedAt)} ms until all were in`);
});
