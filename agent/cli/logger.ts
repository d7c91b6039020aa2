/**
 * The logger of the long-running commands: one JSON object per line on stderr (stdout stays free
 * for command output), written synchronously so nothing is lost at exit or on a crash. The line
 * format is pino's — `level` as a number (10 trace … 60 fatal), `time` in ms since the epoch,
 * `pid`, `hostname`, `name`, the bindings of `child()` loggers, the fields, then `msg` — so
 * pino's tools read it (`syncwire agent … 2>&1 | npx pino-pretty`). Written here rather than
 * loading pino: the agent's idle memory budget is tight (pino and its dependencies cost ~7 MB).
 */
import { writeSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from '../node/log.js';
import type { LogLevel } from './log-levels.js';

const LEVELS: Record<Exclude<LogLevel, 'silent'>, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/**
 * The CLI's logger: the agent's {@link Logger} (what the engine, transports and store are
 * given: fields first, then a message, pino's calling convention) plus `trace`, `fatal` and
 * child loggers.
 */
export interface JsonLogger extends Logger {
  trace(fields: object, msg?: string): void;
  fatal(fields: object, msg?: string): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: object): JsonLogger;
}

/** Where lines go (tests capture them). Default: fd 2, synchronously. */
export type LineSink = (line: string) => void;

const toStderr: LineSink = (line) => {
  try {
    writeSync(2, line);
  } catch {
    // stderr closed or full: logging must never take the process down.
  }
};

/**
 * A logger writing lines at `level` and above. `silent` writes nothing.
 * @throws RangeError for an unknown level (the config schema and the flags check it first).
 */
export function createLogger(level: string, name = 'syncwire', sink: LineSink = toStderr): JsonLogger {
  const min = level === 'silent' ? Infinity : LEVELS[level as keyof typeof LEVELS];
  if (min === undefined) throw new RangeError(`unknown log level ${JSON.stringify(level)}`);
  const base = JSON.stringify({ pid: process.pid, hostname: hostname(), name }).slice(1, -1);
  return make(min, base, sink);
}

function make(min: number, bindings: string, sink: LineSink): JsonLogger {
  const at = (n: number) => (fields: object, msg?: string): void => {
    if (n < min) return;
    const own = JSON.stringify(fields, replacer);
    const rest = own === '{}' || own === undefined ? '' : `,${own.slice(1, -1)}`;
    sink(`{"level":${n},"time":${Date.now()},${bindings}${rest}${msg === undefined ? '' : `,"msg":${JSON.stringify(msg)}`}}\n`);
  };
  return {
    trace: at(LEVELS.trace),
    debug: at(LEVELS.debug),
    info: at(LEVELS.info),
    warn: at(LEVELS.warn),
    error: at(LEVELS.error),
    fatal: at(LEVELS.fatal),
    child(more: object): JsonLogger {
      const extra = JSON.stringify(more, replacer).slice(1, -1);
      return make(min, extra === '' ? bindings : `${bindings},${extra}`, sink);
    },
  };
}

/** Errors as `{type, message, stack}` (JSON.stringify would print `{}`); bigint as a string. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** The `err` field of a fatal line: what a log shipper needs to alert on. */
export interface FatalErrorFields {
  /** The error class (`ConfigError`, `LockedError`, …). */
  type: string;
  message: string;
  /** The error's reason code (its `reason`, `kind` or errno `code`, in that order), else its type. */
  reason: string;
  /** The process exit status this error leads to. */
  exitCode: number;
  /** Only with exit status 1 (a runtime failure, possibly a bug): 2, 75 and 78 are expected. */
  stack?: string;
}

/**
 * The fields of the one fatal line a command writes before it exits with `exitCode`: `err` as
 * {@link FatalErrorFields} and `exitCode` at the top level too (for filters that do not descend).
 */
export function fatalFields(err: unknown, exitCode: number): { err: FatalErrorFields; exitCode: number } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as Partial<Record<'name' | 'message' | 'stack' | 'reason' | 'kind' | 'code', unknown>>;
  const type = typeof e.name === 'string' ? e.name : 'Error';
  const reason = [e.reason, e.kind, e.code].find((v): v is string => typeof v === 'string' && v !== '') ?? type;
  const stack = exitCode === 1 && typeof e.stack === 'string' ? { stack: e.stack } : {};
  return { err: { type, message: typeof e.message === 'string' ? e.message : String(err), reason, exitCode, ...stack }, exitCode };
}

/**
 * Write the fatal line of `command` (`syncwire-<command>` as `name`, like its other lines) to
 * stderr and return `exitCode`. Written whatever the configured level, `silent` included: the
 * level may not even be known yet (a bad config), and this is the line that says why it exited.
 */
export function logFatal(command: string, err: unknown, exitCode: number, msg?: string, sink?: LineSink): number {
  const fields = fatalFields(err, exitCode);
  createLogger('fatal', `syncwire-${command}`, sink).fatal(fields, msg ?? fields.err.message);
  return exitCode;
}
