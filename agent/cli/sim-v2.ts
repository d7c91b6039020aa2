/**
 * `syncwire sim` (protocol 2, the default): firmware-sim v2 devices (firmware-sim/device-v2) on the
 * serial framing and ARQ of firmware-sim/wiring. In-process: a gateway {@link EngineV2} (memory stores,
 * device scopes on, the open-read fleet scope it creates) with one simulated UART per device;
 * the gateway sends the fleet scope one config and each device orders into its device scope.
 * `--port PATH`: one device on a real serial path (a socat PTY, a USB-serial adapter) toward a
 * separately running `syncwire gateway --link serial:...`.
 */
import { encodeCbor, type CborValue } from '../../protocol/cbor.js';
import { Role } from '../../protocol/constants-v2.js';
import { generateIdentity, toHex, type Identity } from '../../protocol/keys.js';
import type { SealPolicy } from '../../protocol/seal.js';
import type { SimDeviceV2 } from '../../firmware-sim/device-v2/index.js';
import { attachTransport } from '../node/attach-transport.js';
import { DemoFeedV2 } from './demo-v2-feed.js';
import type { DemoDeviceV2 } from './demo-v2-world.js';
import { deviceEndV2 } from './sim-v2-end.js';

/** Settings both modes share, parsed by sim-cmd.ts. */
export interface SimV2Settings {
  baud: number;
  telemetryMs: number;
  seal: SealPolicy;
  quiet: boolean;
  /** Scopes besides the device scope the devices join (in-process: the first is the fleet scope created). */
  join: string[];
  /** Resolves when the run should end (after `--seconds`, or at SIGINT/SIGTERM). */
  runFor: () => Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const out = (line: string): void => void process.stdout.write(line + '\n');

/** One summary line of a device. */
function deviceLine(name: string, d: SimDeviceV2): string {
  const s = d.stats;
  const held = d.scopes.filter((x) => x.state === 'held').map((x) => x.name).join(', ');
  return `${name} ${d.peerId}: ${s.commits} commits, ${s.commandsReceived} received, ${s.orders} orders, ${s.badFrames} bad frames, ${s.sealFailures} seal failures; ${d.state === 'up' ? 'up' : d.state}, scopes ${held || 'none'}`;
}

/** `--port` mode: one v2 device on `path`. */
export async function runSimV2OnPort(o: SimV2Settings, path: string, identity: Identity, trusted: Uint8Array[]): Promise<number> {
  const [{ attachDeviceToSerialPort }, { SimDeviceV2 }, { SerialPort }] = await Promise.all([
    import('../../firmware-sim/wiring/index.js'), import('../../firmware-sim/device-v2/index.js'), import('serialport'),
  ]);
  const device = new SimDeviceV2({ identity, trustedKeys: trusted, joinScopes: o.join, telemetryMs: o.telemetryMs, seal: o.seal });
  const feed = new DemoFeedV2(out, o.quiet);
  out(`device ${device.peerId} public key ${toHex(identity.publicKey)} on ${path} at ${o.baud} baud, protocol 2, seal ${o.seal}, joins ${o.join.join(', ') || 'no other scope'}`);
  feed.addDevice({ name: 'device', device });
  const port = new SerialPort({ path, baudRate: o.baud, autoOpen: false });
  const attachment = attachDeviceToSerialPort(deviceEndV2(device), port, { onError: (err) => feed.line('device', `port error: ${err.message}`) });
  let summary = '';
  try {
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    device.start();
    await o.runFor();
    device.stop();
    summary = deviceLine('device', device); // before the detach takes the link down
  } finally {
    device.stop();
    attachment.detach();
    feed.stop();
    await new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
  }
  out(summary);
  return 0;
}

/**
 * In-process mode: `count` devices, each on its own simulated UART to a gateway EngineV2. After
 * the run, waits up to 10 s for every order to be at its device and every reading at the gateway,
 * then prints a line per device and one for the gateway. Exit status 1 when something did not arrive.
 */
export async function runSimV2InProcess(o: SimV2Settings, count: number): Promise<number> {
  const [{ SimRegistry, createSimBinding, createSimLink }, { attachDeviceToSerialPort }, { SimDeviceV2 }, { SerialPortStream }, { EngineV2 }] = await Promise.all([
    import('../../firmware-sim/uart/index.js'), import('../../firmware-sim/wiring/index.js'), import('../../firmware-sim/device-v2/index.js'),
    import('@serialport/stream'), import('../sync/engine-v2.js'),
  ]);
  const feed = new DemoFeedV2(out, o.quiet);
  const gwId = generateIdentity();
  const ids = Array.from({ length: count }, () => generateIdentity());
  const fleet = o.join[0] ?? 'fleet/sim';
  const gw = await EngineV2.open({ identity: gwId, trust: { mode: 'list', keys: ids.map((i) => i.publicKey) }, scopes: { max: Infinity, deviceScopes: {} } });
  feed.addEngine({ name: 'gateway', engine: gw });
  await gw.createScope({ name: fleet, members: [{ publicKey: gwId.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  const tag = Math.random().toString(16).slice(2, 8);
  // This run's own simulated ports: the gateway's serial transport and the devices open them here.
  const registry = new SimRegistry();
  const binding = createSimBinding(registry);
  const parts: (() => Promise<void>)[] = [];
  const devices: DemoDeviceV2[] = [];
  const telemetry = new Map<SimDeviceV2, Uint8Array[]>();
  const orders = new Map<SimDeviceV2, Uint8Array[]>();
  for (let i = 0; i < count; i++) {
    const name = `device-${i + 1}`;
    const link = createSimLink({ pathA: `/dev/swsim2-${tag}-gw${i}`, pathB: `/dev/swsim2-${tag}-dev${i}`, baudRate: o.baud, registry });
    const device = new SimDeviceV2({ identity: ids[i]!, trustedKeys: [gwId.publicKey], joinScopes: [fleet, ...o.join.slice(1)], telemetryMs: o.telemetryMs, seal: o.seal });
    devices.push({ name, device });
    feed.addDevice({ name, device });
    telemetry.set(device, []);
    orders.set(device, []);
    device.on('commit', (scope, cmd) => scope === `device/${device.peerId}` && telemetry.get(device)!.push(cmd.id));
    const t = await attachTransport(`serial:${link.a.path}?baud=${o.baud}`, gw, { binding, onWarn: (err) => feed.line('gateway', `warning: ${err.message}`) });
    const port = new SerialPortStream({ binding, path: link.b.path, baudRate: o.baud });
    port.on('error', (err: Error) => feed.line(name, `port error: ${err.message}`));
    const att = attachDeviceToSerialPort(deviceEndV2(device), port);
    device.start();
    parts.push(async () => {
      device.stop();
      att.detach();
      await t.close();
      if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
      link.dispose();
    });
  }
  const commit = async (scope: string, payload: CborValue[], what: string): Promise<Uint8Array> => {
    const id = await gw.commit(scope, encodeCbor(payload));
    feed.line('gateway', `committed ${what} ${JSON.stringify(payload.slice(1))} in ${feed.scopeLabel(scope)}`);
    return id;
  };
  const config = await commit(fleet, ['config', 'telemetry_ms', o.telemetryMs], 'fleet config');
  // Orders round-robin, each into its device's scope once the gateway holds it (the device came up).
  let n = 0;
  const timer = setInterval(() => {
    const d = devices[n % devices.length]!.device;
    n++;
    const scope = `device/${d.peerId}`;
    if (gw.scope(scope) === undefined) return;
    void commit(scope, [d.peerId, 'setpoint', 20 + (n % 5)], 'order').then((id) => orders.get(d)!.push(id), () => undefined);
  }, Math.max(250, Math.min(1000, o.telemetryMs)));
  await o.runFor();
  clearInterval(timer);
  for (const { device } of devices) device.stop();
  const delivered = (d: SimDeviceV2): boolean => {
    const h = gw.scope(`device/${d.peerId}`);
    return orders.get(d)!.every((id) => d.deviceScope.retains(id))
      && telemetry.get(d)!.every((id) => h !== undefined && h.store.indexOf(id) >= 0)
      && d.scopes.some((s) => s.state === 'held' && s.name === fleet && s.retains(config));
  };
  const settleBy = Date.now() + 10_000;
  while (!devices.every((d) => delivered(d.device)) && Date.now() < settleBy) await sleep(100);
  feed.mute();
  let ok = true;
  for (const { name, device } of devices) {
    const h = gw.scope(`device/${device.peerId}`);
    const atGw = telemetry.get(device)!.filter((id) => h !== undefined && h.store.indexOf(id) >= 0).length;
    const got = orders.get(device)!.filter((id) => device.deviceScope.retains(id)).length;
    const cfg = device.scopes.some((s) => s.state === 'held' && s.name === fleet && s.retains(config));
    ok &&= delivered(device);
    out(`${deviceLine(name, device)}; telemetry at gateway ${atGw}/${telemetry.get(device)!.length}, orders delivered ${got}/${orders.get(device)!.length}, fleet config ${cfg ? 'received' : 'MISSING'}`);
  }
  out(`gateway ${gw.peerId}: ${gw.scopes().map((s) => `${feed.scopeLabel(s.name)} ${s.commands}`).join(', ')} commands; ${ok ? 'everything delivered' : 'NOT everything delivered'}`);
  feed.stop();
  for (const p of parts) await p();
  await gw.close();
  return ok ? 0 : 1;
}
