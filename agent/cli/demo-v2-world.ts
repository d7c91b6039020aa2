/**
 * The protocol-v2 demo's cast (`syncwire demo`, the default): a gateway {@link EngineV2} (data
 * dir in a temp dir, device scopes on, the open-read fleet scope `fleet/demo` it creates)
 * listening on TCP and MQTT with simulated 115200-baud UARTs; three agents (EngineV2, joining
 * `fleet/demo`): one on the far end of a UART, one over MQTT, one over TCP that only polls; and
 * simulated v2 devices (firmware-sim/device-v2), each on its own UART with the serial framing and
 * ARQ of the v1 demo's wiring. The agents are excluded from device scopes: only devices get one.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Role } from '../../protocol/constants-v2.js';
import { generateIdentity, toHex, type Identity } from '../../protocol/keys.js';
import { attachTransport } from '../node/attach-transport.js';
import type { Logger } from '../node/log.js';
import { EngineV2, type EngineV2Options } from '../sync/engine-v2.js';
import type { DemoBroker } from './demo-broker.js';
import { DEMO_BAUD, mqttUrls } from './demo-links.js';
import { deviceEndV2 } from './sim-v2-end.js';
import type { SimDeviceV2 } from '../../firmware-sim/device-v2/index.js';
import type { SimLink } from '../../firmware-sim/uart/index.js';

/** The fleet scope the demo gateway creates (open-read: every trusted peer may read it). */
export const DEMO_FLEET = 'fleet/demo';

/** A named v2 engine of the demo. */
export interface DemoEngineV2 {
  name: string;
  engine: EngineV2;
}

/** A named v2 device of the demo. */
export interface DemoDeviceV2 {
  name: string;
  device: SimDeviceV2;
}

/** Everything the v2 demo runs. */
export interface DemoWorldV2 {
  brokerUrl: string;
  inProcessBroker: boolean;
  gateway: DemoEngineV2;
  /** serial-agent, mqtt-agent, tcp-agent (poll-only). */
  agents: DemoEngineV2[];
  devices: DemoDeviceV2[];
  tcpPort: number;
  uarts: string[];
  close(): Promise<void>;
}

/** Options of {@link buildWorldV2}. */
export interface WorldV2Options {
  /** External broker URL (`mqtt://host:port`); default: in-process aedes. */
  mqtt?: string;
  /** Number of simulated devices (default 2). */
  devices?: number;
  /** Telemetry period of the devices, ms. */
  telemetryMs: number;
  logger: Logger;
  warn: (name: string, err: Error) => void;
  /** Called as soon as an engine exists (before it has links), so live output can hook it. */
  onEngine: (e: DemoEngineV2) => void;
  onDevice: (d: DemoDeviceV2) => void;
}

/** Build and start everything. On failure, whatever was started is closed again. */
export async function buildWorldV2(o: WorldV2Options): Promise<DemoWorldV2> {
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
    const deviceCount = o.devices ?? 2;
    const gwId = generateIdentity();
    const agentNames = ['serial-agent', 'mqtt-agent', 'tcp-agent'];
    const agentIds = agentNames.map(() => generateIdentity());
    const deviceIds = Array.from({ length: deviceCount }, () => generateIdentity());
    const keys = [gwId, ...agentIds, ...deviceIds].map((i) => i.publicKey);
    // Loaded here: the firmware simulator and its serial stack are demo-only.
    const [{ SimRegistry, createSimBinding, createSimLink }, { attachDeviceToSerialPort }, { SimDeviceV2 }, { SerialPortStream }] = await Promise.all([
      import('../../firmware-sim/uart/index.js'),
      import('../../firmware-sim/wiring/index.js'),
      import('../../firmware-sim/device-v2/index.js'),
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

    // Null-modem cables in the demo's own registry, created before the engines so that they are
    // disposed after the engines closed: gateway ⇄ serial-agent, gateway ⇄ each device.
    const registry = new SimRegistry();
    const binding = createSimBinding(registry);
    const uarts: SimLink[] = [];
    for (const end of ['agent', ...deviceIds.map((_, i) => `device${i + 1}`)]) {
      const link = createSimLink({ pathA: `/dev/swdemo2-${tag}-gw-${end}`, pathB: `/dev/swdemo2-${tag}-${end}`, baudRate: DEMO_BAUD, registry });
      uarts.push(link);
      undo.push(() => link.dispose());
    }
    const dir = mkdtempSync(join(tmpdir(), 'syncwire-demo-v2-'));
    undo.push(() => rmSync(dir, { recursive: true, force: true }));
    // Short pacing hints so a 10-second demo shows several polls, not one.
    const tuning: NonNullable<EngineV2Options['tuning']> = { pollHint: { minMs: 250, maxMs: 1000 } };
    const trust = { mode: 'list' as const, keys };

    const gwEngine = await EngineV2.open({
      identity: gwId, trust, logger: o.logger, tuning, dataDir: dir, durability: { mode: 'batch', ms: 50 },
      scopes: { max: Infinity, deviceScopes: { exclude: agentIds.map((i) => toHex(i.publicKey)) } },
    });
    const gateway = { name: 'gateway', engine: gwEngine };
    undo.push(() => gwEngine.close());
    o.onEngine(gateway);
    await gwEngine.createScope({ name: DEMO_FLEET, members: [{ publicKey: gwId.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });

    const agents: DemoEngineV2[] = [];
    for (let i = 0; i < agentNames.length; i++) {
      const pollOnly = agentNames[i] === 'tcp-agent';
      const engine = await EngineV2.open({
        identity: agentIds[i]!, trust, logger: o.logger, scopes: { join: [DEMO_FLEET] },
        tuning: pollOnly ? { ...tuning, subscribe: false } : tuning,
      });
      const a = { name: agentNames[i]!, engine };
      undo.push(() => engine.close());
      agents.push(a);
      o.onEngine(a);
    }

    const link = async (e: DemoEngineV2, url: string, extra: { binding?: typeof binding } = {}): Promise<number | undefined> => {
      const t = await attachTransport(url, e.engine, { logger: o.logger, ...extra, onWarn: (err) => o.warn(e.name, err) });
      undo.push(() => t.close());
      return t.localPort;
    };
    const tcpPort = (await link(gateway, 'tcp-listen://127.0.0.1:0'))!;
    const mqtt = mqttUrls(brokerUrl, gwEngine.peerId, `syncwire-demo-${tag}`);
    await link(gateway, mqtt.listen);
    for (const u of uarts) await link(gateway, `serial:${u.a.path}?baud=${DEMO_BAUD}`, { binding });
    await link(agents[0]!, `serial:${uarts[0]!.b.path}?baud=${DEMO_BAUD}`, { binding });
    await link(agents[1]!, mqtt.dial);
    await link(agents[2]!, `tcp://127.0.0.1:${tcpPort}`);

    const devices: DemoDeviceV2[] = [];
    for (let i = 0; i < deviceCount; i++) {
      const device = new SimDeviceV2({ identity: deviceIds[i]!, trustedKeys: [gwId.publicKey], joinScopes: [DEMO_FLEET], telemetryMs: o.telemetryMs });
      const d = { name: `device-${i + 1}`, device };
      devices.push(d);
      o.onDevice(d);
      const port = new SerialPortStream({ binding, path: uarts[i + 1]!.b.path, baudRate: DEMO_BAUD });
      port.on('error', (err: Error) => o.warn(d.name, err));
      const attachment = attachDeviceToSerialPort(deviceEndV2(device), port);
      undo.push(async () => {
        device.stop();
        attachment.detach();
        if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
      });
    }

    return {
      brokerUrl, inProcessBroker: broker !== null, gateway, agents, devices, tcpPort,
      uarts: uarts.map((u) => `${u.a.path} ⇄ ${u.b.path}`),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
