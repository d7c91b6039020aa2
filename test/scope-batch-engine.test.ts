/**
 * Compact batches between two live v2 engines over a memory link (PROTOCOL.md §10.7): both
 * announce `caps` bit 8, so the device's polls are answered with batches; it converges to the
 * gateway's scope having verified a handful of covers instead of every signature, and a third
 * engine that syncs from the device (a relay hop) converges too, every command still
 * authenticated by its author's key.
 */
import t from 'tap';
import { CAPABILITY_COMPACT_BATCH } from '../protocol/constants-v2.js';
import { connectV2, fleetV2, FLEET_V2 } from '../testkit/engines-v2.js';
import { FAST_TUNING_V2 } from '../testkit/engines-v2.js';
import { until } from '../testkit/wait.js';

t.test('a device bootstraps 400 commands through batches, and a peer of the device from it', async (t) => {
  // 'covers' set explicitly: without elide an engine's default is 'every' (a gateway checks each signature).
  const [gw, dev, other] = await fleetV2(3, { tuning: { ...FAST_TUNING_V2, subscribe: false, batchVerify: 'covers' } });
  t.teardown(() => Promise.all([gw!.close(), dev!.close(), other!.close()]));
  for (let i = 0; i < 400; i++) await gw!.commit(`reading ${i}`.padEnd(100, '.'), FLEET_V2);
  const [, , sg] = connectV2(gw!, dev!);
  await until(() => dev!.idsIn(FLEET_V2).length === gw!.idsIn(FLEET_V2).length, 20_000, 'the device holds the fleet scope');
  t.ok(((sg.peerCaps ?? 0) & CAPABILITY_COMPACT_BATCH) !== 0, 'the device announced CompactBatch');
  t.same(dev!.idsIn(FLEET_V2), gw!.idsIn(FLEET_V2));
  const st = dev!.engine.scope(FLEET_V2)!.ingest.stats.batches;
  t.ok(st.received >= 1, `answers came as batches (${st.received})`);
  t.ok(st.commands >= 401, 'every command in a batch');
  t.ok(st.verified <= 2 * st.received + 1, `verified ${st.verified} covers for ${st.commands} commands`);
  t.equal(st.selfChecked, 0);
  connectV2(dev!, other!);
  await until(() => other!.idsIn(FLEET_V2).length === gw!.idsIn(FLEET_V2).length, 20_000, 'the third engine holds it too');
  t.same(other!.idsIn(FLEET_V2), gw!.idsIn(FLEET_V2));
});
