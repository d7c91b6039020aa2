/**
 * `syncwire demo` on protocol v2 (the default; `--protocol 1` runs the v1 demo of demo.ts): the
 * cast of demo-v2-world.ts syncs for `--seconds` — each device's telemetry into its device
 * scope, an order per device from the gateway into that device's scope, one fleet config from
 * the gateway into `fleet/demo` — then the demo waits until every verdict of demo-v2-checks.ts
 * holds and prints them last: one line per scope (its members converged: same heads), the three
 * checks, and a summary line in v1's shape (`converged: <peers> peers, <commands> commands, heads …`)
 * followed by `in <n> scopes, every check ok`. Exit status 0 only when all hold; 1 after `--timeout` otherwise.
 */
import { encodeCbor } from '../../protocol/cbor.js';
import { toHex } from '../../protocol/keys.js';
import { headsOf } from '../sync/poll-answer-v2.js';
import { verdicts, type DemoLedger, type Verdict } from './demo-v2-checks.js';
import { DemoFeedV2 } from './demo-v2-feed.js';
import { DEMO_FLEET, buildWorldV2, type DemoWorldV2 } from './demo-v2-world.js';
import { DEMO_BAUD } from './demo-links.js';
import type { Logger } from '../node/log.js';

/** Settings of {@link runDemoV2}, parsed by demo.ts. */
export interface DemoV2Settings {
  seconds: number;
  timeoutS: number;
  quiet: boolean;
  mqtt?: string;
  logger: Logger;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether every peer is up and holds the scopes it should: agents `fleet/demo`, devices theirs and it. */
function allUp(w: DemoWorldV2): boolean {
  const up = w.gateway.engine.sessions().filter((s) => s.authenticated).length;
  return up >= w.agents.length + w.devices.length
    && w.agents.every((a) => a.engine.scope(DEMO_FLEET)?.joining === false)
    && w.devices.every((d) => d.device.state === 'up' && d.device.scopes.filter((s) => s.state === 'held').length === 2);
}

/** The first 8 hex of every head of every scope the gateway holds, scope by scope. */
function headsLine(w: DemoWorldV2): string {
  return w.gateway.engine.scopes().sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((s) => headsOf(w.gateway.engine.scope(s.name)!.store).map((h) => toHex(h).slice(0, 8))).join(' ');
}

/** Run the v2 demo; resolves with the exit status. */
export async function runDemoV2(o: DemoV2Settings): Promise<number> {
  const out = (line: string): void => void process.stdout.write(line + '\n');
  const feed = new DemoFeedV2(out, o.quiet);
  let closing = false;
  const warn = (name: string, err: Error): void => {
    if (!closing && !o.quiet) process.stderr.write(`[${name}] warning: ${err.message}\n`);
  };
  const world = await buildWorldV2({
    ...(o.mqtt !== undefined ? { mqtt: o.mqtt } : {}),
    telemetryMs: Math.max(500, Math.round((o.seconds * 1000) / 6)),
    logger: o.logger,
    warn,
    onEngine: (e) => feed.addEngine(e),
    onDevice: (d) => feed.addDevice(d),
  });
  let status = 1;
  const onSignal = (): void => {
    process.stderr.write('demo: interrupted\n');
    closing = true;
    void world.close().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  try {
    const gw = world.gateway.engine;
    feed.line('demo', `protocol 2; MQTT broker ${world.brokerUrl}${world.inProcessBroker ? ' (in-process aedes)' : ''}`);
    feed.line('demo', `gateway ${gw.peerId}: device scopes on, fleet scope ${DEMO_FLEET} (open-read); tcp-listen 127.0.0.1:${world.tcpPort}, mqtt-listen, UARTs at ${DEMO_BAUD} baud: ${world.uarts.join(', ')}`);
    feed.line('demo', `peers: serial-agent (UART), mqtt-agent (MQTT), tcp-agent (TCP, poll-only), ${world.devices.map((d) => `${d.name} (firmware-sim v2, UART)`).join(', ')}`);

    const upBy = Date.now() + 20_000;
    while (!allUp(world)) {
      if (Date.now() > upBy) {
        process.stderr.write(`demo: peers did not all connect and join within 20 s (gateway has ${gw.sessions().filter((s) => s.authenticated).length}/${world.agents.length + world.devices.length} up)\n`);
        return 1;
      }
      await sleep(50);
    }
    feed.line('demo', `everyone connected and joined; syncing for ${o.seconds} s`);

    const ledger: DemoLedger = { orders: [], telemetry: [], fleetConfig: null };
    for (const d of world.devices) {
      d.device.on('commit', (scope, cmd) => {
        if (scope === `device/${d.device.peerId}`) ledger.telemetry.push({ device: d.name, id: cmd.id });
      });
      d.device.start();
    }
    const config = ['config', 'telemetry_ms', world.devices[0]?.device.telemetryMs ?? 0];
    feed.line('gateway', `commits fleet config ${JSON.stringify(config)} in ${DEMO_FLEET}`);
    ledger.fleetConfig = await gw.commit(DEMO_FLEET, encodeCbor(config));
    // One order per device, spread over the first half of the run.
    const span = o.seconds * 1000 * 0.5;
    await Promise.all([
      ...world.devices.map((d, i) =>
        sleep((span * (i + 1)) / world.devices.length).then(async () => {
          const scope = `device/${d.device.peerId}`;
          const order = [d.device.peerId, 'led', i % 2];
          feed.line('gateway', `commits order ${JSON.stringify(order.slice(1))} in ${feed.scopeLabel(scope)}`);
          ledger.orders.push({ device: d.name, id: await gw.commit(scope, encodeCbor(order)) });
        }),
      ),
      sleep(o.seconds * 1000),
    ]);
    for (const d of world.devices) d.device.stop();
    feed.line('demo', 'commits stopped; waiting for every scope\'s members to hold the same heads');

    const deadline = Date.now() + o.timeoutS * 1000;
    let result: Verdict[] = verdicts(world, ledger);
    while (result.some((v) => !v.ok) && Date.now() < deadline) {
      await sleep(100);
      result = verdicts(world, ledger);
    }
    feed.mute();
    for (const v of result) out(v.line);
    const failed = result.filter((v) => !v.ok).length;
    const scopes = gw.scopes();
    const peers = 1 + world.agents.length + world.devices.length;
    const commands = scopes.reduce((n, s) => n + s.commands, 0);
    // v1's summary shape first (scripts and the package test read it), then the v2 part.
    out(failed === 0
      ? `converged: ${peers} peers, ${commands} commands, heads ${headsLine(world)} in ${scopes.length} scopes, every check ok`
      : `not converged after ${o.timeoutS} s: ${failed} of ${result.length} verdicts failed`);
    status = failed === 0 ? 0 : 1;
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
