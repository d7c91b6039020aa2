/**
 * protocol-v2.md §7.1 "version refusals" over MQTT through a real mosquitto: a v2 dialer whose
 * link to its remote ended in a version refusal (the remote answered `Error{UnsupportedVersion}`
 * and closed) opens no new link to that remote while the hold lasts — not on its relink timer,
 * and not when the remote announces `online` again — whereas without the hold it relinks within
 * its (here 20–100 ms) backoff.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Link } from '../agent/link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { VERSION_REDIAL_MS } from '../agent/sync/session-v2.js';
import { openTransport } from '../agent/transport/registry.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { errorMessage } from '../protocol/error-message.js';
import { generateIdentity } from '../protocol/keys.js';
import { findBin, freePort, mosquitto as startMosquitto, mosquittoConf } from '../testkit/net.js';
import { until, waitFor } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

const CI = process.env.CI === 'true' || process.env.CI === '1';
const bin = findBin('mosquitto');
const skip = bin !== '' ? false : CI ? false : 'mosquitto not installed';

t.test('mqtt: after a version refusal the dialer holds its relink', { skip }, async (t) => {
  if (bin === '') return void t.fail('mosquitto is required under CI=true');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-mosq-redial-'));
  const broker = startMosquitto(mosquittoConf(dir, port), port);
  await broker.start();
  t.teardown(async () => {
    await broker.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  const fast = { reconnectBaseMs: 20, reconnectMaxMs: 100 };
  // The remote: a peer of another version, answering every first frame with the refusal.
  const remoteId = generateIdentity().peerId;
  const remote = await openTransport(`mqtt-listen://127.0.0.1:${port}`, { selfId: remoteId, ...fast });
  t.teardown(() => remote.close());
  const accepted: Link[] = [];
  remote.on('link', (link) => {
    accepted.push(link);
    link.once('frame', () => {
      link.send(encodeMessageV2(errorMessage('UnsupportedVersion', 'protocol version 2 is not supported; this peer speaks 3')));
      void link.close();
    });
  });
  const e = await EngineV2.open({ identity: generateIdentity(), trust: { mode: 'open', keys: [] }, tuning: FAST_V2 });
  t.teardown(() => e.close());
  const dialer = await openTransport(`mqtt://127.0.0.1:${port}/${remoteId}`, { selfId: e.peerId, ...fast });
  t.teardown(() => dialer.close());
  const links: Link[] = [];
  dialer.on('link', (link) => {
    links.push(link);
    e.attach(link);
  });
  await until(() => links.length >= 1 && !links[0]!.open, 20_000, 'the first link was refused and closed');
  t.equal(links[0]!.redialHoldMs, VERSION_REDIAL_MS, 'the session asked for the 30 s hold');
  const relinked = await waitFor(() => links.length > 1, 1500);
  t.notOk(relinked, `no new link within 1.5 s (the dialer made ${links.length})`);
  t.equal(accepted.length, 1, 'the remote saw one link');
});
