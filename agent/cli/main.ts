#!/usr/bin/env node
/**
 * `syncwire`: the command-line entry. Subcommand modules are imported only when run, and they
 * import transports (mqtt.js, serialport) and the embedded broker only when a link or the demo
 * needs them, so `syncwire status` or a serial-only agent stays small.
 *
 * Exit status: the table in exit-codes.ts (0 ok, 1 runtime failure, 2 usage error, 75 try again
 * later, 78 bad config, key file, data directory or store: the systemd unit does not restart on it),
 * chosen by exit-status.ts from the error's class.
 */
import { packageVersion } from './version.js';
import { helpText, parseCommand, UsageError, type Command } from './args.js';
import { EXIT_HELP } from './exit-codes.js';
import { logFatal } from './logger.js';

/**
 * Commands whose stderr is a JSON log (pino's format, on a terminal too): their fatal errors,
 * usage errors included, are one JSON line at level 60 like every other line they write.
 */
const JSON_LOG_COMMANDS = new Set(['agent', 'gateway']);

/** Subcommands: one-line summary (for the top-level help) and a lazy loader. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  agent: { summary: 'run a sync agent with its links (serial, TCP, MQTT)', load: async () => (await import('./agent-cmd.js')).agentCommand },
  gateway: { summary: 'run one engine bridging many links and listeners', load: async () => (await import('./gateway-cmd.js')).gatewayCommand },
  sim: { summary: 'run simulated devices on simulated (or real) serial links', load: async () => (await import('./sim-cmd.js')).simCommand },
  keygen: { summary: 'create an ed25519 key file (mode 0600)', load: async () => (await import('./keys.js')).keygenCommand },
  key: { summary: "print a key file's peer id and public key (key show FILE; never the secret)", load: async () => (await import('./key-cmd.js')).keyCommand },
  commit: { summary: 'commit commands (one, or one per stdin line) through a running agent or into its store', load: async () => (await import('./commit-cmd.js')).commitCommand },
  tail: { summary: "print a running agent's commands in causal order (--follow; --exec CMD per command)", load: async () => (await import('./tail-cmd.js')).tailCommand },
  show: { summary: 'print one command of a running agent by id, as JSON', load: async () => (await import('./show-cmd.js')).showCommand },
  scope: { summary: 'list the scopes of a running agent (scope list), or grant and revoke members (scope grant|revoke)', load: async () => (await import('./scope-cmd.js')).scopeCommand },
  status: { summary: "show a running agent's links, peers, heads, subscriptions, traffic", load: async () => (await import('./status-cmd.js')).statusCommand },
  store: { summary: 'check a command log, or salvage a damaged one (check never writes)', load: async () => (await import('./store-cmd.js')).storeCommand },
  demo: { summary: 'zero-setup demo: gateway + serial, MQTT and TCP agents converging', load: async () => (await import('./demo.js')).demoCommand },
};

function topHelp(): string {
  const names = Object.keys(COMMANDS);
  const w = Math.max(...names.map((n) => n.length)) + 2;
  return [
    'syncwire — sync agent for a replicated graph of signed commands over serial, MQTT and TCP',
    '',
    'Usage: syncwire <command> [options]      syncwire <command> --help',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(w)}${COMMANDS[n]!.summary}`),
    '',
    'Options:',
    '  -h, --help     show this help',
    '  -v, --version  print the version',
    '',
    EXIT_HELP,
    '',
  ].join('\n');
}

/** Run the CLI on `argv` (without node and script); resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    if (first === 'help' && rest[0] !== undefined && COMMANDS[rest[0]] !== undefined) return main([rest[0], '--help']);
    process.stdout.write(topHelp());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write(`syncwire ${packageVersion()}\n`);
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (entry === undefined) {
    const what = first.startsWith('-') ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`;
    process.stderr.write(`syncwire: ${what}\nCommands: ${Object.keys(COMMANDS).join(', ')}. Run \`syncwire --help\`.\n`);
    return 2;
  }
  const cmd = await entry.load();
  try {
    const { flags, positionals } = parseCommand(cmd.spec, rest, cmd.positionals === true);
    if (flags.help === true) {
      process.stdout.write(helpText(cmd.spec));
      return 0;
    }
    return await cmd.run(flags, positionals);
  } catch (err) {
    // Loaded only now: it imports every error class, which a command that succeeds never needs.
    const { exitStatusOf } = await import('./exit-status.js');
    if (JSON_LOG_COMMANDS.has(first)) {
      const status = exitStatusOf(err);
      return logFatal(first, err, status, err instanceof UsageError ? `${err.message}; run \`syncwire ${first} --help\` for usage` : undefined);
    }
    if (err instanceof UsageError) {
      process.stderr.write(`syncwire ${first}: ${err.message}\nRun \`syncwire ${first} --help\` for usage.\n`);
      return err.exitCode;
    }
    process.stderr.write(`syncwire ${first}: ${(err as Error).message ?? String(err)}\n`);
    return exitStatusOf(err);
  }
}

// Set exitCode instead of calling exit(): pending stderr writes finish, and a dangling handle
// shows up as a hang in tests instead of being hidden.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const command = process.argv[2] ?? '';
    if (JSON_LOG_COMMANDS.has(command)) logFatal(command, err, 1);
    else process.stderr.write(`syncwire: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
