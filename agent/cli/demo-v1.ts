/**
 * The v1 demo (`syncwire demo --protocol 1`, being retired with protocol 1): see demo.ts for what
 * it shows and demo-world.ts for its cast. Loaded only when asked for, so the default demo and
 * the rest of the CLI never load the v1 engine or firmware-sim's v1 device.
 */
import { encodeCbor } from '../../protocol/cbor.js';
import type { Logger } from '../node/log.js';
import { DemoFeed } from './demo-feed.js';
import type { DemoNode } from './demo-node.js';
import { DEMO_BAUD, buildWorld, type DemoWorld } from './demo-world.js';
import type { Engine } from '../sync/engine.js';

/** What the `demo` flags say, parsed. */
export interface DemoV1Options {
  seconds: number;
  timeoutS: number;
  quiet: boolean;
  logger: Logger;
  /** A broker URL instead of the in-process aedes. */
  mqtt?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Why the engines differ, or null when they hold the identical graph. */
export function mismatch(world: DemoWorld, deviceCommits: Uint8Array[], gatewayOrders: number): string | null {
  const nodes = [world.gateway, ...world.agents];
  const ref = nodes[0]!;
  const refHeads = ref.headSet().join();
  const bad: string[] = [];
  for (const n of nodes) {
    if (n.store.size !== ref.store.size || n.headSet().join() !== refHeads) bad.push('graphs differ');
    const missing = deviceCommits.filter((id) => n.store.indexOf(id) < 0).length;
    if (missing > 0) bad.push(`${n.name} lacks ${missing} device commands`);
  }
  if (world.device.stats.orders < gatewayOrders) bad.push(`device got ${world.device.stats.orders}/${gatewayOrders} orders`);
  if (bad.length === 0) return null;
  const rows = nodes.map((n) => `  ${n.name.padEnd(13)} ${String(n.store.size).padStart(4)} commands, heads ${n.headSet().map((h) => h.slice(0, 8)).join(' ')}`);
  return [...new Set(bad)].join('; ') + '\n' + rows.join('\n');
}

/** Commit `count` times at random moments within `spanMs`; resolves when all are durable. */
async function commitOver(spanMs: number, count: number, commit: (i: number) => Promise<void>): Promise<void> {
  const at = Array.from({ length: count }, () => Math.random() * spanMs).sort((a, b) => a - b);
  await Promise.all(at.map((ms, i) => sleep(ms).then(() => commit(i + 1))));
}

/** Run the v1 demo; resolves to the exit status (0 only on convergence). */
export async function runDemoV1(o: DemoV1Options): Promise<number> {
  const { seconds, timeoutS, quiet } = o;
  const log = o.logger;
  const out = (line: string): void => void process.stdout.write(line + '\n');
  const feed = new DemoFeed(out, quiet);
  let closing = false;
  const warn = (name: string, err: Error): void => {
    if (!closing && !quiet) process.stderr.write(`[${name}] warning: ${err.message}\n`);
  };
  const world = await buildWorld({
    ...(o.mqtt !== undefined ? { mqtt: o.mqtt } : {}),
    telemetryMs: Math.max(500, Math.round((seconds * 1000) / 6)),
    logger: log,
    warn,
    onNode: (n) => feed.addNode(n),
    onDevice: (d, name) => feed.addDevice(d, name, 'gateway'),
  });
  const nodes: DemoNode[] = [world.gateway, ...world.agents];
  let status = 1;
  const onSignal = (): void => {
    process.stderr.write('demo: interrupted\n');
    closing = true;
    void world.close().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  try {
    feed.line('demo', `MQTT broker ${world.brokerUrl}${world.inProcessBroker ? ' (in-process aedes)' : ''}`);
    feed.line('demo', `gateway ${world.gateway.peerId}: tcp-listen 127.0.0.1:${world.tcpPort}, mqtt-listen, UARTs ${world.uarts.join(', ')} at ${DEMO_BAUD} baud`);
    feed.line('demo', 'peers: serial-agent (UART), mqtt-agent (MQTT), tcp-agent (TCP, poll-only), device (firmware-sim, UART)');

    // Everyone connected: the gateway holds a session with each of the four peers.
    const upBy = Date.now() + 15000;
    const up = (e: Engine): number => e.snapshot().peers.filter((p) => p.authenticated).length;
    while (up(world.gateway.engine) < 4 || world.agents.some((a) => up(a.engine) < 1) || world.device.state !== 'up') {
      if (Date.now() > upBy) {
        process.stderr.write(`demo: peers did not all connect within 15 s (gateway sees ${up(world.gateway.engine)}/4)\n`);
        return 1;
      }
      await sleep(50);
    }

    feed.line('demo', `everyone connected; committing for ${seconds} s`);
    const perEngine = Math.max(2, Math.ceil(seconds / 2.5));
    const span = seconds * 1000 * 0.85;
    const deviceCommits: Uint8Array[] = [];
    world.device.on('commit', (cmd) => deviceCommits.push(cmd.id));
    world.device.start();
    const deviceId = world.device.peerId;
    await Promise.all([
      commitOver(span, perEngine, async (n) => {
        const order = [deviceId, 'led', n % 2];
        feed.line('gateway', `commits order ${JSON.stringify(order.slice(1))} for device`);
        await world.gateway.engine.commit(encodeCbor(order));
      }),
      ...world.agents.map((a) =>
        commitOver(span, perEngine, async (n) => {
          const text = JSON.stringify({ from: a.name, n });
          feed.line(a.name, `commits ${text}`);
          await a.engine.commit(new TextEncoder().encode(text));
        }),
      ),
      sleep(seconds * 1000),
    ]);
    world.device.stop();
    feed.line('demo', 'commits stopped; waiting for every peer to hold the identical graph');

    const deadline = Date.now() + timeoutS * 1000;
    let why = mismatch(world, deviceCommits, perEngine);
    while (why !== null && Date.now() < deadline) {
      await sleep(100);
      why = mismatch(world, deviceCommits, perEngine);
    }
    if (why !== null) {
      feed.mute();
      out(`not converged after ${timeoutS} s: ${why}`);
      return 1;
    }
    const heads = world.gateway.headSet().map((h) => h.slice(0, 8));
    feed.line(world.deviceName, `${deviceCommits.length} telemetry commands in every graph, ${world.device.stats.orders} orders received, ring holds ${world.device.ring.count}/${world.device.ring.capacity}`);
    feed.mute();
    out(`converged: ${nodes.length} peers, ${world.gateway.store.size} commands, heads ${heads.join(' ')}`);
    status = 0;
    return status;
  } finally {
    closing = true;
    process.off('SIGINT', onSignal);
    feed.stop();
    await world.close();
    // Everything is closed, so the process should now exit by itself; if some handle still
    // holds it, say which instead of hanging (the timer does not hold the process itself).
    setTimeout(() => {
      process.stderr.write(`demo: dangling handles after shutdown: ${process.getActiveResourcesInfo().join(', ')}\n`);
      process.exit(status);
    }, 5000).unref();
  }
}

