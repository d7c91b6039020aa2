/**
 * The gateway's EngineV2 with the v2 simulated device taking subscriptions (v2-scopes §11.3):
 * once the gateway's first round of a device scope completes it subscribes, and the device's
 * telemetry then reaches it by push with no poll from the gateway in between (its anti-entropy
 * poll is 300 s away). With `acceptSubscriptions: false` the gateway keeps polling.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import type { Link, LinkEvents } from '../agent/link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import type { CommandV2 } from '../protocol/command-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import type { SealPolicy } from '../protocol/seal.js';
import { SimDeviceV2 } from '../firmware-sim/device-v2/index.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const keepAlive = setInterval(() => undefined, 60_000);
t.teardown(() => clearInterval(keepAlive));

/** The gateway's end of a message seam to the device (bodies cross on a later turn). */
class SeamLink extends EventEmitter<LinkEvents> implements Link {
  readonly description = 'seam:device';
  readonly maxFrame = 2048;
  readonly sealPolicy: SealPolicy = 'prefer';
  open = true;
  constructor(private readonly device: SimDeviceV2) {
    super();
  }
  send(body: Uint8Array): boolean {
    const copy = Uint8Array.from(body);
    if (this.open) setImmediate(() => this.open && this.device.onBody(copy));
    return true;
  }
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.device.disconnect();
    this.emit('close');
  }
}

/** Gateway and device linked; counts of the gateway's outgoing messages by type. */
async function rig(t: { teardown(fn: () => unknown): void }, acceptSubscriptions: boolean): Promise<{ gw: EngineV2; device: SimDeviceV2; out: Map<string, number> }> {
  const gi = generateIdentity();
  const device = new SimDeviceV2({ trustedKeys: [gi.publicKey], joinScopes: ['fleet/acme'], telemetryMs: 100, acceptSubscriptions });
  const gw = await EngineV2.open({ identity: gi, trust: { mode: 'list', keys: [device.identity.publicKey] }, tuning: FAST_V2, scopes: { max: Infinity, deviceScopes: {} } });
  await gw.createScope({ name: 'fleet/acme', members: [{ publicKey: gi.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  const out = new Map<string, number>();
  gw.on('frame-out', (_p, m) => {
    const type = decodeMessageV2(m).type;
    out.set(type, (out.get(type) ?? 0) + 1);
  });
  const link = new SeamLink(device);
  device.connect({ send: (b) => setImmediate(() => link.open && link.emit('frame', Uint8Array.from(b))), close: () => void link.close() });
  gw.attach(link);
  t.teardown(async () => {
    device.stop();
    await gw.close();
  });
  await until(() => device.scopes.filter((s) => s.state === 'held').length === 2, 20_000, 'the device holds two scopes');
  return { gw, device, out };
}

/** Telemetry for ~1 s; resolves with what was committed once the gateway holds all of it. */
async function telemetry(gw: EngineV2, device: SimDeviceV2): Promise<CommandV2[]> {
  const committed: CommandV2[] = [];
  device.on('commit', (_s, c) => committed.push(c));
  device.start();
  await until(() => committed.length >= 10, 20_000, 'ten telemetry commits');
  device.stop();
  const ds = `device/${device.peerId}`;
  await until(() => committed.every((c) => idsIn(gw, ds).includes(toHex(c.id))), 20_000, 'telemetry at the gateway');
  return committed;
}

t.test('subscribed after its first round, the gateway receives telemetry by push and polls no more', async (t) => {
  const { gw, device, out } = await rig(t, true);
  await until(() => device.subscriptionCount === 2, 20_000, 'the gateway subscribed to both device scopes');
  t.equal(out.get('Subscribe'), 2, 'one Subscribe per scope');
  const polls = out.get('PollRequest') ?? 0;
  t.ok(polls >= 2, `the first rounds were polls (${polls})`);
  const answered = device.stats.pollsAnswered;
  const committed = await telemetry(gw, device);
  t.pass(`${committed.length} telemetry commands reached the gateway`);
  t.equal(out.get('PollRequest') ?? 0, polls, 'no PollRequest from the gateway while subscribed (anti-entropy is 300 s away)');
  t.equal(device.stats.pollsAnswered, answered, 'the device answered no poll');
  t.equal(device.stats.badFrames, 0);
});

t.test('with subscriptions off the gateway keeps polling the device', async (t) => {
  const { gw, device, out } = await rig(t, false);
  const polls = out.get('PollRequest') ?? 0;
  await telemetry(gw, device);
  t.equal(out.get('Subscribe') ?? 0, 0, 'no Subscribe: the device does not announce Push');
  t.ok((out.get('PollRequest') ?? 0) > polls, 'polls carried the telemetry');
  t.equal(device.subscriptionCount, 0);
});
