/**
 * The gateway's EngineV2 with the v2 simulated device (firmware-sim/device-v2): over the message
 * seam (a `Link` whose bodies go straight to the device), and over the simulated UART with the
 * serial framing and ARQ of the device wiring (`attachDeviceToSerialPort`) against the agent's
 * serial transport. Either way the device joins its device scope and the fleet scope, the
 * gateway's order reaches it as an order, its telemetry reaches the gateway with the ids it
 * committed, and the fleet configuration reaches it.
 */
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { SerialPortStream } from '@serialport/stream';
import type { Link, LinkEvents } from '../agent/link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { openTransport } from '../agent/transport/registry.js';
import { attachDeviceToSerialPort } from '../firmware-sim/wiring/index.js';
import type { DeviceEnd } from '../firmware-sim/wiring/device-link.js';
import { SimDeviceV2 } from '../firmware-sim/device-v2/index.js';
import { SimRegistry, createSimBinding, createSimLink } from '../firmware-sim/uart/index.js';
import { isBarePushV2 } from '../protocol/bare-push-v2.js';
import { encodeCbor } from '../protocol/cbor.js';
import type { CommandV2 } from '../protocol/command-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import type { SealPolicy } from '../protocol/seal.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const keepAlive = setInterval(() => undefined, 60_000);
t.teardown(() => clearInterval(keepAlive));

/** The gateway's end of the message seam: bodies go to the device on a later turn, as on a wire. */
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

/** A gateway engine with device scopes and the open-read fleet scope, and a device that trusts it. */
async function rig(t: { teardown(fn: () => unknown): void }, pollMs = 50): Promise<{ gw: EngineV2; gi: Identity; device: SimDeviceV2 }> {
  const gi = generateIdentity();
  const device = new SimDeviceV2({ trustedKeys: [gi.publicKey], joinScopes: ['fleet/acme'], pollMs, telemetryMs: 100 });
  const gw = await EngineV2.open({ identity: gi, trust: { mode: 'list', keys: [device.identity.publicKey] }, tuning: FAST_V2, scopes: { max: Infinity, deviceScopes: {} } });
  await gw.createScope({ name: 'fleet/acme', members: [{ publicKey: gi.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  t.teardown(async () => {
    device.stop();
    await gw.close();
  });
  return { gw, gi, device };
}

/** The device end to end with `gw`: joins, an order, telemetry with its ids, the fleet config. */
async function flows(t: Test, gw: EngineV2, device: SimDeviceV2, timeoutMs: number): Promise<void> {
  const ds = `device/${device.peerId}`;
  const orders: Uint8Array[] = [];
  device.on('order', (p) => orders.push(p));
  const committed: CommandV2[] = [];
  device.on('commit', (_s, c) => committed.push(c));
  await until(() => device.scopes.filter((s) => s.state === 'held').length === 2, timeoutMs, 'the device holds two scopes');
  t.same(device.scopes.filter((s) => s.state === 'held').map((s) => s.name).sort(), [ds, 'fleet/acme'].sort(), 'its device scope and the fleet scope');
  t.equal(toHex(device.deviceScope.id), toHex(gw.scope(ds)!.id), 'the device scope the gateway created');
  const order = await gw.commit(ds, encodeCbor([device.peerId, 'reboot']));
  await until(() => orders.length === 1, timeoutMs, 'the order at the device');
  t.ok(device.deviceScope.retains(order), 'the order has the gateway\'s id at the device');
  device.start();
  await until(() => committed.length >= 3, timeoutMs, 'telemetry committed');
  device.stop();
  await until(() => committed.every((c) => idsIn(gw, ds).includes(toHex(c.id))), timeoutMs, 'telemetry at the gateway');
  t.pass(`${committed.length} telemetry commands reached the gateway under the ids the device gave them`);
  const config = await gw.commit('fleet/acme', encodeCbor(['rate', 5]));
  const fleet = device.scopes.find((s) => s.name === 'fleet/acme')!;
  await until(() => fleet.retains(config), timeoutMs, 'the fleet config at the device');
  t.equal(device.stats.rejectedCommands, 0, 'the device refused nothing');
  t.equal(device.stats.badFrames, 0, 'no bad frame at the device');
}

t.test('over the message seam (sealed: both prefer)', async (t) => {
  const { gw, device } = await rig(t);
  const link = new SeamLink(device);
  device.connect({ send: (b) => setImmediate(() => link.open && link.emit('frame', Uint8Array.from(b))), close: () => void link.close() });
  const s = gw.attach(link);
  await until(() => s.authenticated, 20_000, 'the link up');
  t.ok(s.sealed, 'sealed');
  await flows(t, gw, device, 20_000);
  t.equal(s.stats.badFrames, 0, 'no bad frame at the gateway');
  t.ok(s.stats.subscribesIn >= 2, 'the device subscribed to its scopes: the gateway announces Push');
  t.equal(s.stats.subscribesRefused, 0, 'no subscription refused');
});

t.test('push: the device subscribes to both scopes, and the gateway\'s order reaches it as a bare push', async (t) => {
  const { gw, device } = await rig(t, 0); // pollMs 0: the device polls at next_poll_ms, and every 60 s once subscribed
  const sent: Uint8Array[] = [];
  gw.on('frame-out', (_p, m) => sent.push(m));
  const link = new SeamLink(device);
  device.connect({ send: (b) => setImmediate(() => link.open && link.emit('frame', Uint8Array.from(b))), close: () => void link.close() });
  const s = gw.attach(link);
  const ds = `device/${device.peerId}`;
  await until(() => s.stats.subscribesIn >= 2 && device.scopes.filter((x) => x.state === 'held').length === 2, 20_000, 'the device subscribed to its two scopes');
  t.equal(s.stats.subscribesRefused, 0, 'both granted');
  const orders: Uint8Array[] = [];
  device.on('order', (p) => orders.push(p));
  const order = await gw.commit(ds, encodeCbor([device.peerId, 'reboot']));
  await until(() => orders.length === 1, 20_000, 'the order at the device');
  const h = gw.scope(ds)!;
  const bytes = toHex(h.store.bytesOf(h.store.indexOf(order)).subarray(1));
  t.ok(sent.some((m) => isBarePushV2(m) && toHex(m).includes(bytes)), 'the order went out as a bare push (the device announced BareCommand)');
  t.ok(s.stats.pushedCommands >= 1, 'counted as pushed');
  t.equal(device.stats.rejectedCommands + device.stats.badFrames, 0, 'the device took it cleanly');
});

t.test('over the simulated UART: serial framing and ARQ against the agent\'s serial transport', async (t) => {
  const { gw, device } = await rig(t);
  const registry = new SimRegistry();
  const binding = createSimBinding(registry);
  const tag = randomBytes(3).toString('hex');
  const baudRate = 115_200;
  const uart = createSimLink({ pathA: `/dev/gw2-${tag}`, pathB: `/dev/dev2-${tag}`, baudRate, registry });
  const transport = await openTransport(`serial:${uart.a.path}?baud=${baudRate}`, { selfId: gw.peerId, binding, reconnectBaseMs: 50, reconnectMaxMs: 200 });
  transport.on('link', (l) => gw.attach(l));
  const port = new SerialPortStream({ binding, path: uart.b.path, baudRate });
  port.on('error', () => undefined);
  const end: DeviceEnd = {
    maxFrame: device.maxFrame,
    connect: (l) => device.connect(l),
    disconnect: () => device.disconnect(),
    onBody: (b) => device.onBody(b),
    linkError: () => undefined, // counted by the wiring's decoder; the v2 device has no hook for it
  };
  const attachment = attachDeviceToSerialPort(end, port);
  t.teardown(async () => {
    attachment.detach();
    await transport.close();
    if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
    uart.dispose();
  });
  await flows(t, gw, device, 30_000);
  const s = gw.sessions()[0]!;
  t.ok(s.authenticated && s.sealed, 'the serial link is up and sealed (serial default: prefer)');
});
