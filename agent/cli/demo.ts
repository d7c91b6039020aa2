/**
 * `syncwire demo`: the whole system in one process on zero-setup defaults. `--protocol 2` (the
 * default) runs demo-v2.ts; `--protocol 1` the v1 demo (demo-v1.ts, loaded only then; demo-world.ts is its cast). Everyone commits for `--seconds`, live lines show each push and poll, then the demo
 * waits until every engine holds the identical graph (equal size, equal heads, the device's
 * telemetry included and every order delivered to the device) and prints one final line:
 *
 * `converged: 4 peers, 31 commands, heads 1a2b3c4d`
 *
 * Exit 0 only on convergence; on timeout the mismatch is printed and the exit status is 1.
 */
import { posInt, str, UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { LOG_LEVELS } from './log-levels.js';
import { DEMO_BAUD } from './demo-links.js';
import { createLogger } from './logger.js';

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
  const mqttUrl = str(flags, 'mqtt');
  // Loaded here: the v1 demo (engine, firmware-sim v1 device) only when asked for.
  const { runDemoV1 } = await import('./demo-v1.js');
  return runDemoV1({ seconds, timeoutS, quiet, logger: log, ...(mqttUrl !== undefined ? { mqtt: mqttUrl } : {}) });
}

/** The `demo` subcommand. */
export const demoCommand: Command = { spec: demoSpec, run: runDemo };
