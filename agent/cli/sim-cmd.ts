/**
 * `syncwire sim`: run `firmware-sim` devices (the minimal second implementation of the protocol)
 * either on simulated UARTs to an in-process agent, or on a real serial path — one end of a
 * `socat` PTY pair, or a USB-serial adapter — to talk to a separately running `syncwire agent`.
 */
import { fromHex, generateIdentity, toHex } from '../../protocol/keys.js';
import { SEAL_POLICIES, type SealPolicy } from '../../protocol/seal.js';
import { list, posInt, str, UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { loadKeyFile } from './keys.js';
import { removedProtocol } from './removed-protocol.js';

/** `syncwire sim`. */
export const simSpec: CommandSpec = {
  name: 'sim',
  summary: 'run simulated firmware devices on simulated (or real) serial links',
  usage: 'syncwire sim [--devices N] [--seconds S] [--seal POLICY] | syncwire sim --port /dev/ttyX [--trust-key HEX]... [--key FILE] [--seal POLICY]',
  flags: {
    protocol: { type: 'string', arg: 'N', description: 'protocol of the devices: 2, the only one (protocol 1 was removed in 0.2.0)' },
    'scope-join': { type: 'string', multiple: true, arg: 'NAME', description: 'a scope the devices join besides their device scope (in-process: the first is the fleet scope the gateway creates, default fleet/sim)' },
    devices: { type: 'string', arg: 'N', description: 'in-process mode: number of devices, each on its own simulated UART (default 2)' },
    port: { type: 'string', short: 'p', arg: 'PATH', description: 'real serial device or PTY: run one device on it instead' },
    baud: { type: 'string', arg: 'N', description: 'line rate (default 115200)' },
    seconds: { type: 'string', short: 'n', arg: 'S', description: 'stop after S seconds (default: run until Ctrl-C)' },
    'telemetry-ms': { type: 'string', arg: 'MS', description: 'telemetry period of each device (default 1000)' },
    key: { type: 'string', short: 'k', arg: 'FILE', description: '--port mode: device key file (default: a fresh key, printed)' },
    'trust-key': { type: 'string', multiple: true, arg: 'HEX', description: '--port mode: public key of the agent on the other end' },
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

--seal sets the devices' sealing policy (PROTOCOL.md §7.2): prefer (default) seals with an agent
that offers it, require refuses one that does not, off never seals.`,
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

/** The v2 devices of sim-v2.ts, in process or on a real port. */
async function runSimV2(flags: Flags, baud: number, telemetryMs: number, seconds: number | undefined): Promise<number> {
  const { runSimV2InProcess, runSimV2OnPort } = await import('./sim-v2.js');
  const o = { baud, telemetryMs, seal: sealPolicy(flags), quiet: flags.quiet === true, join: list(flags, 'scope-join'), runFor: () => runFor(seconds) };
  const path = str(flags, 'port');
  if (path === undefined) {
    const count = posInt(flags, 'devices', 2, 'sim');
    if (count > 64) throw new UsageError('--devices: at most 64', 'sim');
    return runSimV2InProcess(o, count);
  }
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
  if (protocol !== '2') throw new UsageError(removedProtocol(protocol), 'sim');
  return runSimV2(flags, baud, telemetryMs, seconds);
}

/** The `sim` subcommand. */
export const simCommand: Command = { spec: simSpec, run: runSim };
