/**
 * Named errors of the command store. A {@link StoreError} carries a reason code and the process
 * exit status the CLI ends with (`err.exitCode`, read through `cli/exit-status.ts`): 78
 * (`EX_CONFIG`) wherever the operator must act — the systemd unit does not restart on it, so a
 * device with a bad store stops looping and says why — and 1 for a misuse of the store by its
 * caller (a bug: restarting is the right answer). A failed write is a `StoreWriteError`
 * (write-error.ts): the commit may simply be retried.
 */

/** Why the store refused. */
export type StoreErrorReason =
  /** The file does not start with the log magic: not ours, never touched. */
  | 'not-a-log'
  /** The magic is right but the header CRC fails: run `syncwire store salvage`. */
  | 'bad-header'
  /** A version this code does not know (written by a newer syncwire): never downgraded. */
  | 'unsupported-version'
  /** The data directory or log cannot be created, opened or written (permissions, read-only fs). */
  | 'unwritable'
  /** A durability setting that is not `always`, `none` or `batch:<ms>`. */
  | 'bad-durability'
  /** The directory is already open by another store of this process (two writers would corrupt it). */
  | 'already-open'
  /** A read or append after `close()`. */
  | 'closed'
  /** An append whose parents are not all in the store (callers append in causal order). */
  | 'missing-parent'
  /** The log ended before a record it indexes (the file was cut while open). */
  | 'short-read';

/** Exit status of a {@link StoreError} by reason: the store's row of the CLI's exit table. */
export const STORE_EXIT: Readonly<Record<StoreErrorReason, 1 | 78>> = {
  'not-a-log': 78,
  'bad-header': 78,
  'unsupported-version': 78,
  unwritable: 78,
  'bad-durability': 78,
  'already-open': 1,
  closed: 1,
  'missing-parent': 1,
  'short-read': 1,
};

/** Exit status of a store that cannot be opened until the operator acts: `EX_CONFIG`. */
export const STORE_EXIT_CODE = 78;

/** The store refused an operation; `reason` says why, `exitCode` what the CLI exits with. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  /** {@link STORE_EXIT} of the reason: 78 when the operator must act, 1 for a caller's misuse. */
  readonly exitCode: 1 | 78;
  constructor(
    readonly reason: StoreErrorReason,
    /** The file or directory concerned; undefined when there is none (a memory store, a setting). */
    readonly path: string | undefined,
    message: string,
  ) {
    super(message);
    this.exitCode = STORE_EXIT[reason];
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
