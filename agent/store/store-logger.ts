/**
 * How the store takes its logger: the agent's one {@link Logger}, or the older callback form
 * (`(msg, fields, level)`) that tests and tools still pass. Both end up as a Logger.
 */
import { silentLogger, type Logger } from '../node/log.js';

/**
 * The callback form of a store logger: `level` is the line's level ('warn' when not given).
 * Still accepted wherever the store takes a logger; new code passes a {@link Logger}.
 */
export type StoreLogger = (msg: string, fields?: object, level?: 'info' | 'warn' | 'error') => void;

/** `l` as a {@link Logger} (undefined: one that drops every line); a callback gets debug lines as 'info'. */
export function asStoreLogger(l: Logger | StoreLogger | undefined): Logger {
  if (l === undefined) return silentLogger;
  if (typeof l !== 'function') return l;
  const at = (level: 'info' | 'warn' | 'error') => (fields: object, msg?: string) => l(msg ?? '', fields, level);
  return { debug: at('info'), info: at('info'), warn: at('warn'), error: at('error') };
}
