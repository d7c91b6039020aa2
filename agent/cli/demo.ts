/**
 * `syncwire demo`: the whole system in one process on zero-setup defaults (demo-v2.ts, its cast
 * demo-v2-world.ts). Everyone commits for `--seconds`, live lines show each push and poll, then
 * the demo waits until every scope converged and the three scope checks hold, and prints the
 * verdict lines. Exit 0 only when all hold; on timeout the mismatch is printed and the exit status
 * is 1. `--protocol` accepts only 2 (protocol 1 was removed in 0.2.0).
 */
import { posInt, str, UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { LOG_LEVELS } from './log-levels.js';
import { removedProtocol } from './removed-protocol.js';
import { DEMO_BAUD } from './demo-links.js';
import { createLogger } from './logger.js';

/** `syncwire demo`. */
export const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'zero-setup demo: gateway + serial, MQTT, TCP agents and simulated devices converge',
  usage: 'syncwire demo [--mqtt URL] [--seconds N] [--quiet] [--log-level LEVEL]',
  flags: {
    protocol: { type: 'string', arg: 'N', description: 'protocol version: 2, the only one (protocol 1 was removed in 0.2.0)' },
    mqtt: { type: 'string', arg: 'URL', description: 'use this broker (mqtt://host:port) instead of an in-process aedes' },
    seconds: { type: 'string', short: 'n', arg: 'N', description: 'how long everyone commits (default 10)' },
    quiet: { type: 'boolean', short: 'q', description: 'print only the verdict lines' },
    'log-level': { type: 'string', arg: 'LEVEL', description: 'engine and transport logs on stderr (default silent)' },
    timeout: { type: 'string', arg: 'S', description: 'seconds to wait for convergence after the last commit (default 20)' },
  },
  details: `A gateway (v2 engine, data dir in a temp dir) with device
scopes on and the open-read fleet scope fleet/demo it creates; three agents joining fleet/demo
(serial-agent on a simulated ${DEMO_BAUD}-baud UART, mqtt-agent, tcp-agent polling only); two
firmware-sim v2 devices, each on its own simulated UART. Each device sends telemetry into its
device scope device/<its peer id>; the gateway sends each device one order into that scope and
one fleet config into fleet/demo. Live lines name the scope of every command.
Final lines: one per scope (converged: its members hold the same heads, or NOT converged);
"check orders reached only their device", "check telemetry reached only the gateway", "check
fleet config reached everyone" (ok or FAILED); a summary line: converged: <peers> peers,
<commands> commands, heads <first 8 hex of each scope's heads> in <n> scopes, every check ok.
Exit status 0 when all hold, 1 otherwise.`,
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
  if (protocol !== '2') throw new UsageError(removedProtocol(protocol), 'demo');
  const log = createLogger(level, 'syncwire-demo');
  const mqttUrl = str(flags, 'mqtt');
  // Loaded here: the engine is only needed by this command.
  const { runDemoV2 } = await import('./demo-v2.js');
  return runDemoV2({ seconds, timeoutS, quiet, logger: log, ...(mqttUrl !== undefined ? { mqtt: mqttUrl } : {}) });
}

/** The `demo` subcommand. */
export const demoCommand: Command = { spec: demoSpec, run: runDemo };
