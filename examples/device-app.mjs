#!/usr/bin/env node
/**
 * A device application built on the syncwire library (README "Library").
 *
 * It runs an agent in its own process, acts on the orders addressed to it and reports telemetry:
 *
 * - An order is a command whose payload is JSON `{"to": "<this device's peer id>", "led": 0 | 1}`.
 *   The device "switches its LED" (writes `led` in its state directory) and commits an
 *   acknowledgement `{"ack": "<order id>", "from": "<peer id>", "led": <value>}`.
 * - Every `--telemetry-ms` (default 60000) it commits `{"from": "<peer id>", "uptimeS": …, "n": …}`.
 * - Orders for other devices, acknowledgements and telemetry are passed over.
 *
 * It resumes after a restart from the cursor it saved after acting on each command, so it acts on
 * every order exactly once and in order (the cursor file is written atomically after the action
 * and its acknowledgement; a crash between the two replays that one order, which is harmless here
 * because switching an LED to the same value twice changes nothing).
 *
 * Usage: node examples/device-app.mjs CONFIG.json [--telemetry-ms N]
 *   CONFIG.json is a syncwire config (README "Configuration"); the key file is created if missing.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
const cursorFile = join(dataDir, 'app.cursor');
const stop = new AbortController();

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
  if (order === null || typeof order !== 'object' || order.to !== me || (order.led !== 0 && order.led !== 1)) return;
  writeFileSync(join(dataDir, 'led'), String(order.led));
  process.stdout.write(`order ${entry.id.slice(0, 12)}: led=${order.led}\n`);
  await agent.commit({ ack: entry.id, from: me, led: order.led });
}

let n = 0;
const telemetry = setInterval(() => {
  agent.commit({ from: me, uptimeS: Math.round(process.uptime()), n: ++n }).catch((err) => process.stderr.write(`telemetry not committed: ${err.message}\n`));
}, telemetryMs);

async function shutdown() {
  clearInterval(telemetry);
  stop.abort();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

process.stdout.write(`device ${me} ready\n`);
for await (const entry of agent.commands({ after: savedCursor(), follow: true, signal: stop.signal })) {
  await handle(entry);
  saveCursor(entry.cursor);
}
await agent.close();
process.stdout.write('stopped\n');
