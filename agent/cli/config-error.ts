/**
 * The error of a config that cannot be used, in a file of its own so that modules config.ts
 * imports (the trust file and API token readers) can throw it without an import cycle.
 * config.ts re-exports it: `import { ConfigError } from './config.js'` keeps working.
 */
import { EXIT } from './exit-codes.js';

/** A config that cannot be used. Exit status 78 (`EX_CONFIG`): systemd is told not to restart on it. */
export class ConfigError extends Error {
  override readonly name: string = 'ConfigError';
  /** Reason code (in the fatal log line). */
  readonly reason: string = 'BadConfig';
  readonly exitCode = EXIT.config;
}
