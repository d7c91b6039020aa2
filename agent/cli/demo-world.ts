/**
 * The demo's cast, wired on zero-setup defaults: an MQTT broker (in-process aedes unless a URL is
 * given), a gateway engine over a temp-dir disk store listening on TCP and MQTT with two
 * simulated 115200-baud UARTs, and four peers — a full engine on the far end of one UART, one
 * over MQTT, one over TCP (poll-only, so polls show next to pushes), and a `firmware-sim` device
 * on the other UART. Every engine trusts exactly the demo's generated keys.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, type Identity } from '../../protocol/keys.js';
import type { Logger } from '../sync/engine.js';
import { DiskStore } from '../store/disk-store.js';
import { MemoryStore } from '../store/memory-store.js';
import { DemoNode } from './demo-node.js';
import type { DemoBroker } from './demo-broker.js';
import type { SimDevice } from '../../firmware-sim/device/index.js';
import type { SimLink } from '../../firmware-sim/uart/index.js';
import { DEMO_BAUD, mqttUrls } from './demo-links.js';

export { DEMO_BAUD, mqttUrls } from './demo-links.js';

/** Everything the demo runs. */
export interface DemoWorld {
  /** Where MQTT goes (`mqtt://127.0.0.1:<port>` for the in-process broker). */
  brokerUrl: string;
  inProcessBroker: boolean;
  gateway: DemoNode;
  /** serial-agent, mqtt-agent, tcp-agent. */
  agents: DemoNode[];
  device: SimDevice;
  deviceName: string;
  tcpPort: number;
  uarts: string[];
  close(): Promise<void>;
}

/** Options of {@link buildWorld}. */
export interface WorldOptions {
  /** External broker URL (`mqtt://host:port` or `mqtts://...`); default: in-process aedes. */
  mqtt?: string;
  /** Telemetry period of the simulated device, ms. */
  telemetryMs: number;
  logger: Logger;
  warn: (name: string, err: Error) => void;
  /** Called as soon as a part exists, so live output can hook it before it syncs. */
  onNode: (node: DemoNode) => void;
  onDevice: (device: SimDevice, name: string) => void;
}

/** Build and start everything. On failure, whatever was started is closed again. */
export async function buildWorld(o: WorldOptions): Promise<DemoWorld> {
  const undo: (() => Promise<void> | void)[] = [];
  const close = async (): Promise<void> => {
    for (const f of undo.reverse()) {
      try {
        await f();
      } catch {
        /* best effort: keep closing the rest */
      }
    }
    undo.length = 0;
  };
  try {
    const ids: Record<string, Identity> = {};
    for (const n of ['gateway', 'serial-agent', 'mqtt-agent', 'tcp-agent', 'device']) ids[n] = generateIdentity();
    const keys = Object.values(ids).map((i) => i.publicKey);
    // Loaded here: the firmware simulator and its serial stack are demo-only.
    const [{ SimRegistry, createSimBinding, createSimLink }, { createDevice, attachDeviceToSerialPort }, { SerialPortStream }] = await Promise.all([
      import('../../firmware-sim/uart/index.js'),
      import('../../firmware-sim/device/index.js'),
      import('@serialport/stream'),
    ]);

    let broker: DemoBroker | null = null;
    if (o.mqtt === undefined) {
      broker = await (await import('./demo-broker.js')).startDemoBroker();
      const b = broker;
      undo.push(() => b.close());
    }
    const brokerUrl = o.mqtt ?? broker!.url;
    const tag = randomBytes(3).toString('hex');

    // Created before the engines so that they are disposed after the engines closed.
    // Two null-modem cables: gateway ⇄ serial-agent, gateway ⇄ device, in the demo's own registry.
    const registry = new SimRegistry();
    const binding = createSimBinding(registry);
    const uarts: SimLink[] = [];
    for (const end of ['agent', 'device']) {
      const link = createSimLink({ pathA: `/dev/swdemo-${tag}-gw-${end}`, pathB: `/dev/swdemo-${tag}-${end}`, baudRate: DEMO_BAUD, registry });
      uarts.push(link);
      undo.push(() => link.dispose());
    }
    const dir = mkdtempSync(join(tmpdir(), 'syncwire-demo-'));
    undo.push(() => rmSync(dir, { recursive: true, force: true }));
    const common = {
      trust: { mode: 'list' as const, keys },
      logger: o.logger,
      // Short pacing hints so a 10-second demo shows several polls, not one.
      pollHint: { minMs: 250, maxMs: 1000 },
    };
    const gateway = new DemoNode('gateway', ids.gateway!, await DiskStore.open(dir, { durability: { mode: 'batch', ms: 50 } }), common, o.warn);
    undo.push(() => gateway.close());
    o.onNode(gateway);
    const agents = [
      new DemoNode('serial-agent', ids['serial-agent']!, new MemoryStore(), common, o.warn),
      new DemoNode('mqtt-agent', ids['mqtt-agent']!, new MemoryStore(), common, o.warn),
      new DemoNode('tcp-agent', ids['tcp-agent']!, new MemoryStore(), { ...common, subscribe: false }, o.warn),
    ];
    for (const a of agents) {
      undo.push(() => a.close());
      o.onNode(a);
    }

    const serial = { binding };

    const tcp = await gateway.addLink('tcp-listen://127.0.0.1:0', {}, o.logger);
    const mqtt = mqttUrls(brokerUrl, gateway.peerId, `syncwire-demo-${tag}`);
    await gateway.addLink(mqtt.listen, {}, o.logger);
    for (const u of uarts) await gateway.addLink(`serial:${u.a.path}?baud=${DEMO_BAUD}`, serial, o.logger);

    await agents[0]!.addLink(`serial:${uarts[0]!.b.path}?baud=${DEMO_BAUD}`, serial, o.logger);
    await agents[1]!.addLink(mqtt.dial, {}, o.logger);
    await agents[2]!.addLink(`tcp://127.0.0.1:${tcp.localPort}`, {}, o.logger);

    const device = createDevice({ identity: ids.device!, trustedKeys: keys, telemetryMs: o.telemetryMs, handshakeRetryMs: 500 });
    const deviceName = 'device';
    o.onDevice(device, deviceName);
    const port = new SerialPortStream({ binding, path: uarts[1]!.b.path, baudRate: DEMO_BAUD });
    const attachment = attachDeviceToSerialPort(device, port);
    undo.push(async () => {
      device.stop();
      attachment.detach();
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    });

    return {
      brokerUrl,
      inProcessBroker: broker !== null,
      gateway,
      agents,
      device,
      deviceName,
      tcpPort: tcp.localPort!,
      uarts: uarts.map((u) => `${u.a.path} ⇄ ${u.b.path}`),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
