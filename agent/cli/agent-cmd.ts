/**
 * `syncwire agent`: run one engine over a disk store with the configured links until
 * SIGINT/SIGTERM (shared with `gateway`, which is the same with listeners; see gateway-cmd.ts).
 */
import { TransportError, type TransportErrorKind } from '../transport/errors.js';
import { UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { ConfigError } from './config.js';
import { createLogger, logFatal } from './logger.js';
import { configFromFlags, NODE_FLAGS, printableConfig, URL_HELP } from './node-flags.js';
import { untilSignal } from './until-signal.js';
import { startResolvedAgent } from './start-agent.js';

/** `syncwire agent`. */
export const agentSpec: CommandSpec = {
  name: 'agent',
  summary: 'run a sync agent with its links until SIGINT/SIGTERM',
  usage: 'syncwire agent [--config FILE] [--link URL]... [options]',
  flags: NODE_FLAGS,
  details: `${URL_HELP}

Logs are JSON lines on stderr (pino's format; a fatal error is one too). SIGHUP (systemctl
reload) re-reads trust.keysFile: removed peers are disconnected, the others stay linked. Environment: SYNCWIRE_CONFIG (config file when --config is not given),
SYNCWIRE_LOG_LEVEL (when --log-level is not given). The agent holds the data directory's lock while
running (kernel-held, freed when the process dies; <data-dir>/syncwire.lock only names the holder)
and serves the local HTTP API on its status socket (status, commit, tail, show, metrics).
It keeps one store per scope under
<data-dir>/scopes/, a v1 commands.log moved to the read-only scope legacy/v1 at start, the
"scopes" config applied (a gateway creates device/<peer id> for each trusted peer and every
scopes.create entry it does not hold), and the API's commit and stream taking ?scope=NAME.
Under systemd (Type=notify) it sends READY=1 once its store is open and its links attached,
and WATCHDOG=1 while its event loop runs freely. A full disk refuses
commits; the agent stays up. Exit status: 0 after a clean shutdown, 1 on a runtime failure, 2 on a
usage error, 75 when the lock stays busy with a commit, 78 on a bad config, key file, data
directory or store, or when another agent holds the data directory.

Example:
  syncwire keygen --out /var/lib/syncwire/key.json
  syncwire agent --data-dir /var/lib/syncwire --link serial:/dev/ttyAMA0 --trust-key <gateway key>`,
};

/** Transport failures that mean a link URL can never work as configured. */
const CONFIG_MISTAKES: ReadonlySet<TransportErrorKind> = new Set(['BadUrl', 'UnknownScheme', 'BadOptions']);

/** Start an agent or gateway from flags and run it until a signal; resolves to the exit status. */
export async function runNodeCommand(flags: Flags, role: 'agent' | 'gateway', extra: string[]): Promise<number> {
  const cfg = await configFromFlags(flags, extra);
  if (flags['print-config'] === true) {
    process.stdout.write(JSON.stringify(printableConfig(cfg), null, 2) + '\n');
    return 0;
  }
  if (role === 'gateway' && cfg.links.length === 0) {
    throw new UsageError('a gateway needs links to bridge: give --listen URL or --link URL (or "links" in the config)', 'gateway');
  }
  const log = createLogger(cfg.log.level, `syncwire-${role}`);
  // A crash mid-run is one fatal JSON line too, not node's multi-line stack trace.
  process.on('uncaughtException', (err) => {
    logFatal(role, err, 1);
    process.exit(1);
  });
  if (role === 'agent' && cfg.links.length === 0) log.warn({}, 'no links configured: this agent only keeps its own commands');
  // A reload requested while the store opens (a big log takes seconds) must not kill the agent.
  const hupWhileStarting = (): void => log.info({ signal: 'SIGHUP' }, 'reload requested while starting: the trust file is read as the agent starts');
  process.on('SIGHUP', hupWhileStarting);
  let node;
  try {
    node = await startResolvedAgent(cfg, role, log);
  } catch (err) {
    // A link URL the registry refuses is a config mistake: exit 78 so systemd does not loop.
    if (err instanceof TransportError && CONFIG_MISTAKES.has(err.kind)) throw new ConfigError(`links: ${err.message}`);
    throw err;
  } finally {
    process.off('SIGHUP', hupWhileStarting);
  }
  return untilSignal(node, log);
}

/** The `agent` subcommand. */
export const agentCommand: Command = { spec: agentSpec, run: (flags) => runNodeCommand(flags, 'agent', []) };
