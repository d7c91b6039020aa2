/**
 * `syncwire gateway`: an agent with several links, usually listeners, bridging them. Every peer
 * syncs with the one engine, so a command from a serial device reaches the MQTT and TCP peers
 * (pushed to their subscriptions, or found by their polls) and back.
 */
import { list, type Command, type CommandSpec } from './args.js';
import { runNodeCommand } from './agent-cmd.js';
import { NODE_FLAGS, URL_HELP } from './node-flags.js';

/** `syncwire gateway`. */
export const gatewaySpec: CommandSpec = {
  name: 'gateway',
  summary: 'run one engine bridging many links (serial devices, MQTT, TCP)',
  usage: 'syncwire gateway [--config FILE] [--listen URL]... [--link URL]... [options]',
  flags: {
    ...NODE_FLAGS,
    listen: { type: 'string', multiple: true, arg: 'URL', description: 'listener URL (tcp-listen://, mqtt-listen://, ...), added to the links' },
  },
  details: `A gateway is an agent with several links, usually listeners: device agents dial it over
TCP or through an MQTT broker, microcontrollers hang off its UARTs. Every link syncs with one
engine and one graph, so a command committed on a serial device is pushed to the MQTT and TCP
peers subscribed to the gateway (and polled by the others), and back.

${URL_HELP}

Example:
  syncwire gateway --data-dir /var/lib/syncwire \\
    --listen tcp-listen://0.0.0.0:7411 --listen mqtt-listen://broker.local:1883 \\
    --link serial:/dev/ttyUSB0 --link serial:/dev/ttyUSB1 --trust-key <key> --trust-key <key>`,
};

/** The `gateway` subcommand. */
export const gatewayCommand: Command = { spec: gatewaySpec, run: (flags) => runNodeCommand(flags, 'gateway', list(flags, 'listen')) };
