/**
 * Which error ends a command with which exit status ({@link EXIT}, the table in exit-codes.ts).
 * Only the errors named here set the status, each through its own `exitCode`; anything else —
 * a library error that happens to carry an `exitCode`, a thrown string — is a runtime failure,
 * status 1. Loaded only when a command failed, so it may import every error class.
 *
 * | error | status |
 * |---|---|
 * | UsageError | 2 |
 * | ConfigError (KeyFileError, UnsafePathError), DataDirError, StoreOpenError | 78 |
 * | StoreError | 78 (not a log, bad header, unknown version, unwritable, bad durability); 1 (a misuse: closed, already open, missing parent, short read) |
 * | LockedError | 78 (an agent or gateway holds the directory), 75 (a short-lived holder) |
 * | StoreWriteError | 75 (disk full), 1 (other I/O) |
 * | RetentionFullError | 75 (a bounded scope full of own commands no peer holds yet: commit again once a peer synced) |
 * | DemoBrokerUnavailableError, anything else | 1 |
 */
import { StoreError } from '../store/store-errors.js';
import { StoreWriteError } from '../store/write-error.js';
import { RetentionFullError } from '../sync/retention-full-error.js';
import { UsageError } from './args.js';
import { ConfigError } from './config.js';
import { DataDirError, StoreOpenError } from './data-dir.js';
import { DemoBrokerUnavailableError } from './demo-broker.js';
import { EXIT } from './exit-codes.js';
import { LockedError } from './lock.js';

/** The error classes whose `exitCode` the process exits with (subclasses included). */
const WITH_EXIT_STATUS = [UsageError, ConfigError, DataDirError, StoreOpenError, StoreError, LockedError, StoreWriteError, DemoBrokerUnavailableError] as const;

/** The exit status for an error that ended a command (see the module table); 1 for anything unknown. */
export function exitStatusOf(err: unknown): number {
  for (const cls of WITH_EXIT_STATUS) if (err instanceof cls) return err.exitCode;
  if (err instanceof RetentionFullError) return EXIT.tempFail;
  return EXIT.failure;
}
