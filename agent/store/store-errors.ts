/**
 * Named errors of the command store. Each carries a reason code and the process exit status the
 * CLI uses (`err.exitCode`): 78 (`EX_CONFIG`) wherever the operator must act — the systemd unit
 * does not restart on it, so a device with a bad store stops looping and says why.
 */

/** Why a store could not be opened. */
export type StoreErrorReason =
  /** The file does not start with the log magic: not ours, never touched. */
  | 'not-a-log'
  /** The magic is right but the header CRC fails: run `syncwire store salvage`. */
  | 'bad-header'
  /** A version this code does not know (written by a newer syncwire): never downgraded. */
  | 'unsupported-version'
  /** The data directory or log cannot be created, opened or written (permissions, read-only fs). */
  | 'unwritable';

/** Exit status of every {@link StoreError}: `EX_CONFIG`. */
export const STORE_EXIT_CODE = 78;

/** A store that cannot be opened until the operator acts. `exitCode` is always 78. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly exitCode = STORE_EXIT_CODE;
  constructor(
    readonly reason: StoreErrorReason,
    /** The file or directory concerned. */
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** Errno codes that mean "the operator must fix permissions or the mount", not "retry". */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR']);

/** `err` as a {@link StoreError} 'unwritable' when its errno says so; else `err` unchanged. */
export function asUnwritable(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined || !UNWRITABLE.has(code)) return err;
  return new StoreError('unwritable', path, `${path}: cannot open the command store for writing (${code}); fix the permissions or the mount`);
}
