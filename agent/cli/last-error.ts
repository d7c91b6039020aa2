/**
 * The last error an agent logged, for `GET /v1/status` (`lastError`): a logger wrapper that
 * remembers the message and time of every `error` and `fatal` line, its children included. Only
 * the latest is kept, so it costs one small object however often errors repeat.
 */
import type { JsonLogger } from './logger.js';
import type { LastError } from './process-info.js';

/** A logger that remembers its last error, and the memory. */
export interface ErrorMemo {
  log: JsonLogger;
  last(): LastError | null;
}

/** Wrap `log` so that its error and fatal lines (and those of every child) are remembered. */
export function rememberErrors(log: JsonLogger, now: () => number = Date.now): ErrorMemo {
  let last: LastError | null = null;
  const wrap = (l: JsonLogger): JsonLogger => ({
    trace: (f, m) => l.trace(f, m),
    debug: (f, m) => l.debug(f, m),
    info: (f, m) => l.info(f, m),
    warn: (f, m) => l.warn(f, m),
    error: (f, m) => {
      last = { atMs: now(), message: describe(f, m) };
      l.error(f, m);
    },
    fatal: (f, m) => {
      last = { atMs: now(), message: describe(f, m) };
      l.fatal(f, m);
    },
    child: (bindings) => wrap(l.child(bindings)),
  });
  return { log: wrap(log), last: () => last };
}

/** The line's message, with its `err` field when it has one (what an operator needs first). */
function describe(fields: object, msg: string | undefined): string {
  const err = (fields as { err?: unknown }).err;
  const detail = err instanceof Error ? err.message : typeof err === 'string' ? err : undefined;
  const text = [msg, detail].filter((s) => s !== undefined && s !== '').join(': ');
  return (text || 'error').slice(0, 512);
}
