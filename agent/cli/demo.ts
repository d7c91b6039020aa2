/**
 * `syncwire demo`: the whole system in one process on zero-setup defaults. `--protocol 2` (the
 * default) runs demo-v2.ts; `--protocol 1` the v1 demo below (see demo-world.ts for its cast). Everyone commits for `--seconds`, live lines show each push and poll, then the demo
 * waits until every engine holds the identical graph (equal size, equal heads, the device's
 * telemetry included and every order delivered to the device) and prints one final line:
 *
 * `converged: 4 peers, 31 commands, heads 1a2b3c4d`
 *
 * Exit 0 only on convergence; on timeout the mismatch is printed and the exit status is 1.
 */
import { encodeCbor } from '../../protocol/cbor.js';
import { posInt, str, UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { LOG_LEVELS } from './log-levels.js';
import { DemoFeed } from './demo-feed.js';
import type { DemoNode } from './demo-node.js';
import { DEMO_BAUD, buildWorld, type DemoWorld } from './demo-world.js';
import { createLogger } from './logger.js';
import type { Engine } from '../sync/engine.js';

/** `syncwire demo`. */
export const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'zero-setup demo: gateway + serial, MQTT, TCP agents and simulated devices converge',
  usage: 'syncwire demo [--protocol 1|2] [--mqtt URL] [--seconds N] [--quiet] [--log-level LEVEL]',
  flags: {
    protocol: { type: 'string', arg: 'N', description: 'protocol version to demo: 2 (default: scopes) or 1 (one graph)' },
    mqtt: { type: 'string', arg: 'URL', description: 'use this broker (mqtt://host:port) instead of an in-process aedes' },
    seconds: { type: 'string', short: 'n', arg: 'N', description: 'how long everyone commits (default 10)' },
    quiet: { type: 'boolean', short: 'q', description: 'print only the final line (v2: the verdict lines)' },
    'log-level': { type: 'string', arg: 'LEVEL', description: 'engine and transport logs on stderr (default silent)' },
    timeout: { type: 'string', arg: 'S', description: 'seconds to wait for convergence after the last commit (default 20)' },
  },
  details: `Protocol 2 (the default): a gateway (v2 engine, data dir in a temp dir) with device
scopes on and the open-read fleet scope fleet/demo it creates; three agents joining fleet/demo
(serial-agent on a simulated ${DEMO_BAUD}-baud UART, mqtt-agent, tcp-agent polling only); two
firmware-sim v2 devices, each on its own simulated UART. Each device sends telemetry into its
device scope device/<its peer id>; the gateway sends each device one order into that scope and
one fleet config into fleet/demo. Live lines name the scope of every command.
Final lines: one per scope (converged: its members hold the same heads, or NOT converged);
"check orders reached only their device", "check telemetry reached only the gateway", "check
fleet config reached everyone" (ok or FAILED); a summary line: converged: <peers> peers,
<commands> commands, heads <first 8 hex of each scope's heads> in <n> scopes, every check ok.
Exit status 0 when all hold, 1 otherwise.

Protocol 1 (--protocol 1): a gateway (disk store in a temp dir) listening on TCP and MQTT with
two simulated ${DEMO_BAUD}-baud UARTs; a full agent on the far end of one UART; an agent over
MQTT; a poll-only agent over TCP; a firmware-sim device (a second, minimal protocol
implementation) on the other UART, sending telemetry and receiving the gateway's orders. All
keys are generated per run and every peer trusts exactly those keys (trust mode "list").

Final line (v1): converged: <peers> peers, <commands> commands, heads <first 8 hex of each head>
Exit status 0 when every engine holds the identical graph, 1 otherwise.`,
};

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

async function runDemo(flags: Flags): Promise<number> {
  const seconds = posInt(flags, 'seconds', 10, 'demo');
  const timeoutS = posInt(flags, 'timeout', 20, 'demo');
  const quiet = flags.quiet === true;
  const level = str(flags, 'log-level') ?? 'silent';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`, 'demo');
  }
  const protocol = str(flags, 'protocol') ?? '2';
  if (protocol !== '1' && protocol !== '2') throw new UsageError(`--protocol: expected 1 or 2, got ${JSON.stringify(protocol)}`, 'demo');
  const log = createLogger(level, 'syncwire-demo');
  if (protocol === '2') {
    const mqttUrl = str(flags, 'mqtt');
    // Loaded here: the v2 engine is only needed by this branch.
    const { runDemoV2 } = await import('./demo-v2.js');
    return runDemoV2({ seconds, timeoutS, quiet, logger: log, ...(mqttUrl !== undefined ? { mqtt: mqttUrl } : {}) });
  }
  const out = (line: string): void => void process.stdout.write(line + '\n');
  const feed = new DemoFeed(out, quiet);
  let closing = false;
  const warn = (name: string, err: Error): void => {
    if (!closing && !quiet) process.stderr.write(`[${name}] warning: ${err.message}\n`);
  };
  const world = await buildWorld({
    ...(str(flags, 'mqtt') !== undefined ? { mqtt: str(flags, 'mqtt')! } : {}),
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

/** The `demo` subcommand. */
export const demoCommand: Command = { spec: demoSpec, run: runDemo };
