/**
 * The pino logger of the long-running commands: JSON lines on stderr (stdout stays free for
 * command output), synchronous writes so nothing is lost at exit or on a crash. Pretty output is
 * left to `pino-pretty` in a pipe: `syncwire agent ... 2>&1 | npx pino-pretty`.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type { PinoLogger };

/** A logger at `level` writing to fd 2, with `name` as the `name` field. */
export function createLogger(level: string, name = 'syncwire'): PinoLogger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}
