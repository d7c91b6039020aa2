/**
 * `syncwire sim`: run `firmware-sim` devices (the minimal second implementation of the protocol)
 * either on simulated UARTs to an in-process agent, or on a real serial path — one end of a
 * `socat` PTY pair, or a USB-serial adapter — to talk to a separately running `syncwire agent`.
 */
import { fromHex, generateIdentity, toHex } from '../../protocol/keys.js';
import { SEAL_POLICIES, type SealPolicy } from '../../protocol/seal.js';
import { list, posInt, str, UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import type { SimDevice } from '../../firmware-sim/device/index.js';
import { DemoFeed } from './demo-feed.js';
import { DemoNode } from './demo-node.js';
import { loadKeyFile } from './keys.js';

/** `syncwire sim`. */
export const simSpec: CommandSpec = {
  name: 'sim',
  summary: 'run simulated firmware devices on simulated (or real) serial links',
  usage: 'syncwire sim [--devices N] [--seconds S] [--seal POLICY] | syncwire sim --port /dev/ttyX [--trust-key HEX]... [--key FILE] [--seal POLICY]',
  flags: {
    protocol: { type: 'string', arg: 'N', description: 'protocol of the devices: 2 (default; scopes: firmware-sim v2 devices) or 1 (the v1 device)' },
    'scope-join': { type: 'string', multiple: true, arg: 'NAME', description: 'a scope the devices join besides their device scope (in-process: the first is the fleet scope the gateway creates, default fleet/sim)' },
    devices: { type: 'string', arg: 'N', description: 'in-process mode: number of devices, each on its own simulated UART (default 2)' },
    port: { type: 'string', short: 'p', arg: 'PATH', description: 'real serial device or PTY: run one device on it instead' },
    baud: { type: 'string', arg: 'N', description: 'line rate (default 115200)' },
    seconds: { type: 'string', short: 'n', arg: 'S', description: 'stop after S seconds (default: run until Ctrl-C)' },
    'telemetry-ms': { type: 'string', arg: 'MS', description: 'telemetry period of each device (default 1000)' },
    key: { type: 'string', short: 'k', arg: 'FILE', description: '--port mode: device key file (default: a fresh key, printed)' },
    'trust-key': { type: 'string', multiple: true, arg: 'HEX', description: '--port mode: public key of the agent on the other end' },
    'trust-any': { type: 'boolean', description: '--port mode, protocol 1 only: admit any peer that proves its key (lab use)' },
    seal: { type: 'string', arg: 'POLICY', description: 'sealing policy of the devices\' links: require, prefer (default) or off' },
    quiet: { type: 'boolean', short: 'q', description: 'no live lines' },
  },
  details: `In-process mode (no --port): a gateway v2 engine (memory stores) with N simulated UARTs
at the given baud rate, a firmware-sim v2 device on each. The gateway hosts device scopes and
creates an open-read fleet scope (the first --scope-join, default fleet/sim); each device sends
telemetry into its device scope device/<its peer id>, the gateway sends the fleet scope a config
and each device orders, and every push, poll and order is printed. At the end each device's line
says how much telemetry reached the gateway, how many orders arrived and whether the config
reached the device (exit status 1 if something did not arrive within 10 s).

--port mode, e.g. with a socat PTY pair:
  socat pty,raw,echo=0,link=/tmp/ttyA pty,raw,echo=0,link=/tmp/ttyB &
  syncwire sim --port /tmp/ttyB --trust-key <gateway public key> --scope-join fleet/acme
  syncwire gateway --link serial:/tmp/ttyA --trust-key <device public key>
(A PTY ignores the baud rate; timing is only realistic on the simulated UARTs.)

--protocol 1 runs the retired one-graph v1 device instead (an agent with a memory store, a v1
device per UART; --trust-any admits any peer that proves its key, lab use, protocol 1 only).

--seal sets the devices' sealing policy (PROTOCOL.md §7.2): prefer (default) seals with an agent
that offers it, require refuses one that does not, off never seals (and is the only policy that
takes an agent older than sealing).`,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves after `seconds` (if given) or at SIGINT/SIGTERM. */
function runFor(seconds: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      if (timer) clearTimeout(timer);
      resolve();
    };
    const timer = seconds !== undefined ? setTimeout(done, seconds * 1000) : setInterval(() => undefined, 1 << 30);
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/** The devices' `--seal` policy (default `prefer`, the serial default). */
function sealPolicy(flags: Flags): SealPolicy {
  const v = str(flags, 'seal') ?? 'prefer';
  if (!(SEAL_POLICIES as readonly string[]).includes(v)) throw new UsageError(`--seal: expected one of ${SEAL_POLICIES.join(', ')}, got ${JSON.stringify(v)}`, 'sim');
  return v as SealPolicy;
}

async function runOnPort(flags: Flags, baud: number, telemetryMs: number, seconds: number | undefined, feed: DemoFeed): Promise<number> {
  const trusted = list(flags, 'trust-key');
  if (trusted.length === 0 && flags['trust-any'] !== true) throw new UsageError('--port needs --trust-key HEX (the agent\'s public key) or --trust-any', 'sim');
  for (const k of trusted) if (!/^[0-9a-fA-F]{64}$/.test(k)) throw new UsageError(`--trust-key: expected 64 hex chars, got ${JSON.stringify(k)}`, 'sim');
  const keyFile = str(flags, 'key');
  const identity = keyFile !== undefined ? loadKeyFile(keyFile) : generateIdentity();
  const [{ createDevice, attachDeviceToSerialPort }, { SerialPort }] = await Promise.all([import('../../firmware-sim/device/index.js'), import('serialport')]);
  const seal = sealPolicy(flags);
  const device = createDevice({ identity, trustedKeys: trusted.map(fromHex), trustAny: flags['trust-any'] === true, telemetryMs, seal });
  process.stdout.write(`device ${device.peerId} public key ${toHex(identity.publicKey)} on ${str(flags, 'port')} at ${baud} baud, seal ${seal}\n`);
  feed.addDevice(device, 'device', 'agent');
  const port = new SerialPort({ path: str(flags, 'port')!, baudRate: baud, autoOpen: false });
  const attachment = attachDeviceToSerialPort(device, port, { onError: (err) => feed.line('device', `port error: ${err.message}`) });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  device.start();
  await runFor(seconds);
  device.stop();
  attachment.detach();
  await new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
  const s = device.stats;
  process.stdout.write(`device ${device.peerId}: ${s.commits} commits, ${s.commandsReceived} received, ${s.orders} orders, ${s.badFrames} bad frames; ${device.sealed ? 'sealed' : 'not sealed'}, ${s.sealFailures} seal failures, ${s.replays} replays, ${s.unsealedDropped} unsealed dropped\n`);
  return 0;
}

async function runInProcess(flags: Flags, count: number, baud: number, telemetryMs: number, seconds: number | undefined, feed: DemoFeed): Promise<number> {
  const [{ SimRegistry, createSimBinding, createSimLink }, { createDevice, attachDeviceToSerialPort }, { SerialPortStream }, { MemoryStore }, { encodeCbor }] = await Promise.all([
    import('../../firmware-sim/uart/index.js'),
    import('../../firmware-sim/device/index.js'),
    import('@serialport/stream'),
    import('../store/memory-store.js'),
    import('../../protocol/cbor.js'),
  ]);
  const seal = sealPolicy(flags);
  const agentId = generateIdentity();
  const ids = Array.from({ length: count }, () => generateIdentity());
  const keys = [agentId.publicKey, ...ids.map((i) => i.publicKey)];
  const agent = new DemoNode('agent', agentId, new MemoryStore(), { trust: { mode: 'list', keys } }, (n, e) => feed.line(n, `warning: ${e.message}`));
  feed.addNode(agent);
  const tag = Math.random().toString(16).slice(2, 8);
  // This run's own simulated ports: the agent's serial transport and the devices open them here.
  const registry = new SimRegistry();
  const binding = createSimBinding(registry);
  const parts: { close(): Promise<void> }[] = [];
  const devices: SimDevice[] = [];
  for (let i = 0; i < count; i++) {
    const name = `device-${i + 1}`;
    const link = createSimLink({ pathA: `/dev/swsim-${tag}-agent${i}`, pathB: `/dev/swsim-${tag}-dev${i}`, baudRate: baud, registry });
    const device = createDevice({ identity: ids[i]!, trustedKeys: keys, telemetryMs, handshakeRetryMs: 500, seal });
    feed.addDevice(device, name, 'agent');
    await agent.addLink(`serial:${link.a.path}?baud=${baud}`, { binding });
    const port = new SerialPortStream({ binding, path: link.b.path, baudRate: baud });
    const att = attachDeviceToSerialPort(device, port);
    device.start();
    devices.push(device);
    parts.push({
      close: async () => {
        device.stop();
        att.detach();
        if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
        link.dispose();
      },
    });
  }
  let n = 0;
  const orders = setInterval(() => {
    const d = devices[n % devices.length]!;
    n++;
    const order = [d.peerId, 'setpoint', 20 + (n % 5)];
    void agent.engine.commit(encodeCbor(order)).then(() => feed.line('agent', `committed order ${JSON.stringify(order.slice(1))} for ${feed.nameOf(d.peerId)}`));
  }, Math.max(1000, telemetryMs * 2));
  await runFor(seconds);
  clearInterval(orders);
  await sleep(200);
  await agent.close();
  for (const p of parts) await p.close();
  for (const d of devices) {
    process.stdout.write(`${feed.nameOf(d.peerId)} ${d.peerId}: ${d.stats.commits} commits, ${d.stats.orders} orders, ${d.stats.badFrames} bad frames, ${d.stats.sealFailures} seal failures; agent holds ${agent.store.size} commands\n`);
  }
  return 0;
}

/** Protocol 2 (the default): the v2 devices of sim-v2.ts. */
async function runSimV2(flags: Flags, baud: number, telemetryMs: number, seconds: number | undefined): Promise<number> {
  const { runSimV2InProcess, runSimV2OnPort } = await import('./sim-v2.js');
  const o = { baud, telemetryMs, seal: sealPolicy(flags), quiet: flags.quiet === true, join: list(flags, 'scope-join'), runFor: () => runFor(seconds) };
  const path = str(flags, 'port');
  if (path === undefined) {
    const count = posInt(flags, 'devices', 2, 'sim');
    if (count > 64) throw new UsageError('--devices: at most 64', 'sim');
    return runSimV2InProcess(o, count);
  }
  if (flags['trust-any'] === true) throw new UsageError('--trust-any: protocol 1 only (the v2 device admits the keys of --trust-key)', 'sim');
  const trusted = list(flags, 'trust-key');
  if (trusted.length === 0) throw new UsageError('--port needs --trust-key HEX (the gateway\'s public key)', 'sim');
  for (const k of trusted) if (!/^[0-9a-fA-F]{64}$/.test(k)) throw new UsageError(`--trust-key: expected 64 hex chars, got ${JSON.stringify(k)}`, 'sim');
  const keyFile = str(flags, 'key');
  return runSimV2OnPort(o, path, keyFile !== undefined ? loadKeyFile(keyFile) : generateIdentity(), trusted.map(fromHex));
}

async function runSim(flags: Flags): Promise<number> {
  const baud = posInt(flags, 'baud', 115200, 'sim');
  const telemetryMs = posInt(flags, 'telemetry-ms', 1000, 'sim');
  const seconds = str(flags, 'seconds') !== undefined ? posInt(flags, 'seconds', 0, 'sim') : undefined;
  const protocol = str(flags, 'protocol') ?? '2';
  if (protocol !== '1' && protocol !== '2') throw new UsageError(`--protocol: expected 1 or 2, got ${JSON.stringify(protocol)}`, 'sim');
  if (protocol === '2') return runSimV2(flags, baud, telemetryMs, seconds);
  if (list(flags, 'scope-join').length > 0) throw new UsageError('--scope-join: protocol 2 only (drop --protocol 1)', 'sim');
  const feed = new DemoFeed((l) => void process.stdout.write(l + '\n'), flags.quiet === true);
  try {
    if (str(flags, 'port') !== undefined) return await runOnPort(flags, baud, telemetryMs, seconds, feed);
    const count = posInt(flags, 'devices', 2, 'sim');
    if (count > 64) throw new UsageError('--devices: at most 64', 'sim');
    return await runInProcess(flags, count, baud, telemetryMs, seconds, feed);
  } finally {
    feed.stop();
  }
}

/** The `sim` subcommand. */
export const simCommand: Command = { spec: simSpec, run: runSim };
