#!/usr/bin/env node
/**
 * A device application built on the syncwire library (README "Library"), protocol 2 (the default).
 *
 * It runs an agent in its own process and talks to its gateway through its device scope
 * `device/<its peer id>`: the gateway creates that scope when the device's link first comes up
 * (`scopes.deviceScopes`, on by default at a gateway), with the gateway and the device as its
 * only members, so nothing in it is seen by any other device.
 *
 * - An order is a command the gateway commits to the device scope, payload JSON
 *   `{"to": "<this device's peer id>", "led": 0 | 1}`. The device "switches its LED" (writes `led`
 *   in its data directory) and commits an acknowledgement `{"ack": "<order id>", "from": "<peer id>",
 *   "led": <value>}` to the same scope.
 * - Every `--telemetry-ms` (default 60000) it commits `{"from": "<peer id>", "uptimeS": …, "n": …}`.
 * - Everything else is passed over: the scope's genesis and membership entries (`kind` other than
 *   `data`), its own acknowledgements and telemetry, and an order naming another device in `to`.
 *
 * It resumes after a restart from the cursor it saved after acting on each command, so it acts on
 * every order exactly once and in order (the cursor file is written atomically after the action
 * and its acknowledgement; a crash between the two replays that one order, which is harmless here
 * because switching an LED to the same value twice changes nothing).
 *
 * Gap markers: the stream also yields gap entries (`'gap' in item`, README "HTTP API"). One says
 * that commands before `item.gap.before` are not here — the gateway pruned them under the scope's
 * retention (default 1,024 commands, 30 days) before this device fetched them, or this device's
 * own retention dropped them while it was behind — so orders may have been missed. A gap carries
 * no cursor: the app logs it and goes on, and saves nothing for it (a restart from the last
 * cursor shows the same gap again, which is why it is only logged). A real device would ask its
 * back end for its current desired state here instead of relying on the missed orders.
 *
 * Usage: node examples/device-app.mjs CONFIG.json [--telemetry-ms N]
 *   CONFIG.json is a syncwire config (README "Configuration"); the key file is created if missing.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureKeyFile, startAgent } from 'syncwire';

const [configPath, ...rest] = process.argv.slice(2);
if (configPath === undefined) {
  process.stderr.write('usage: device-app.mjs CONFIG.json [--telemetry-ms N]\n');
  process.exit(2);
}
const telemetryMs = Number(rest[rest.indexOf('--telemetry-ms') + 1] ?? 60000) || 60000;
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const dataDir = config.dataDir ?? './syncwire-data';
ensureKeyFile(config.keyFile ?? join(dataDir, 'key.json'));

const agent = await startAgent(config);
const me = agent.peerId;
const scope = `device/${me}`;
const cursorFile = join(dataDir, 'app.cursor');
const stop = new AbortController();
let telemetry;

async function shutdown() {
  clearInterval(telemetry);
  stop.abort();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

/** The cursor saved after the last command this app finished with, if any. */
function savedCursor() {
  try {
    return readFileSync(cursorFile, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function saveCursor(cursor) {
  writeFileSync(`${cursorFile}.tmp`, cursor + '\n');
  renameSync(`${cursorFile}.tmp`, cursorFile);
}

async function handle(entry) {
  const order = entry.json;
  if (entry.kind !== 'data' || order === null || typeof order !== 'object' || order.to !== me || (order.led !== 0 && order.led !== 1)) return;
  writeFileSync(join(dataDir, 'led'), String(order.led));
  process.stdout.write(`order ${entry.id.slice(0, 12)}: led=${order.led}\n`);
  await agent.commit({ ack: entry.id, from: me, led: order.led }, { scope });
}

// On a first start the device scope exists only once the gateway has created it and this agent
// has fetched its genesis: until then commits and reads of it are refused (unknown_scope).
const held = () => agent.scopes().some((s) => s.name === scope && !s.joining);
while (!held() && !stop.signal.aborted) await sleep(200);

if (!stop.signal.aborted) {
  let n = 0;
  telemetry = setInterval(() => {
    agent.commit({ from: me, uptimeS: Math.round(process.uptime()), n: ++n }, { scope }).catch((err) => process.stderr.write(`telemetry not committed: ${err.message}\n`));
  }, telemetryMs);

  process.stdout.write(`device ${me} ready\n`);
  for await (const item of agent.commands({ scope, after: savedCursor(), follow: true, signal: stop.signal })) {
    if ('gap' in item) {
      process.stderr.write(`gap in ${item.gap.scope} (${item.gap.reason}) before ${item.gap.before}: orders may have been missed\n`);
      continue;
    }
    await handle(item);
    saveCursor(item.cursor);
  }
}
await agent.close();
process.stdout.write('stopped\n');
