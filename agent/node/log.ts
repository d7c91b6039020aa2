/**
 * The one logger contract of the agent: the engine, every transport and the store log through a
 * {@link Logger}, and the CLI hands each of them a child of its JSON logger (`cli/logger.ts`,
 * which adds `trace`, `fatal` and `child`). The call shape is pino's — fields first, then the
 * message — so a pino instance can be passed as it is.
 *
 * This module imports nothing: every layer (store, sync, transport) may depend on it without
 * depending on anything else of `agent/node/`.
 */

/** A structured logger: `log.warn({ url, attempts }, 'still unreachable')` (pino's call shape). */
export interface Logger {
  /** Lifecycle detail an operator turns on to debug (a link up, a broker reconnect). */
  debug(fields: object, msg?: string): void;
  /** Something an operator wants in the normal log (a peer up, a repair done). */
  info(fields: object, msg?: string): void;
  /** Something went wrong and was handled (a refused peer, a redial, a cut torn tail). */
  warn(fields: object, msg?: string): void;
  /** Something went wrong and was not handled, or data was lost (a damaged log range). */
  error(fields: object, msg?: string): void;
}

/** A logger that drops every line: the default wherever a logger is optional. */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});
