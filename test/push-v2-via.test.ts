/**
 * `via` in a mesh (PROTOCOL.md §11.7): a subscriber lists the peers it also receives a scope's
 * pushes from, and renews its subscriptions when that set changes, so a relay does not push it
 * what those peers push anyway. A gateway and two devices all linked to each other, every link
 * subscribed both ways, the gateway commits to the fleet scope: each device receives each
 * command once (before `via` was sent, every command reached each device twice: from the
 * gateway and relayed by the other device). Anti-entropy polls are slowed to 300 s so every
 * command counted arrived by push.
 */
import t from 'tap';
import { connectV2, fleetV2, FAST_TUNING_V2, FLEET_V2 } from '../testkit/engines-v2.js';
import { until } from '../testkit/wait.js';

t.test('a device subscribed to the gateway and to another device gets each fleet command once', async (t) => {
  const nodes = await fleetV2(3, { tuning: { ...FAST_TUNING_V2, subscribedPollS: 300 } });
  const [gw, d1, d2] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const links = [connectV2(gw, d1), connectV2(gw, d2), connectV2(d1, d2)];
  const fleet = (): Uint8Array | undefined => gw.engine.scope(FLEET_V2)?.id;
  await until(() => fleet() !== undefined && d1.engine.scope(FLEET_V2) !== undefined && d2.engine.scope(FLEET_V2) !== undefined, 20_000, 'both devices joined the fleet scope');
  const id = fleet()!;
  await until(() => links.every(([, , sa, sb]) => sa.pushesUs(id) && sb.pushesUs(id)), 20_000, 'every link subscribed both ways');
  await new Promise((r) => setTimeout(r, 300)); // the via renewals answered
  const stats = (n: typeof gw) => n.engine.scope(FLEET_V2)!.ingest.stats;
  const before = [stats(d1), stats(d2)].map((s) => ({ received: s.received, duplicates: s.duplicates }));
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) ids.push(await gw.commit(`config ${i}`));
  await until(() => ids.every((x) => d1.has(x) && d2.has(x)), 20_000, 'both devices hold every command');
  await new Promise((r) => setTimeout(r, 500)); // a relayed copy still in flight would count
  const after = [stats(d1), stats(d2)];
  for (const [k, s] of after.entries()) {
    t.equal(s.received - before[k]!.received, 40, `device ${k + 1} received each command once`);
    t.equal(s.duplicates - before[k]!.duplicates, 0, `device ${k + 1}: no duplicate`);
  }
});
