/**
 * The typed failure of a write to the command log. A commit that gets one was not stored, not
 * indexed and not pushed: the caller may simply try again later.
 */

/** Why a log write failed: the disk (or quota) is full, or any other I/O error. */
export type StoreWriteReason = 'disk-full' | 'io-error' | 'closed';

/** A command log write failed; nothing of the failed record was kept. */
export class StoreWriteError extends Error {
  override readonly name = 'StoreWriteError';
  /** 75 (`EX_TEMPFAIL`) when the disk is full (freeing space fixes it), else 1. */
  readonly exitCode: number;
  constructor(
    readonly reason: StoreWriteReason,
    /** The errno code (`ENOSPC`, `EDQUOT`, `EIO`...) when the OS gave one. */
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.exitCode = reason === 'disk-full' ? 75 : 1;
  }

  /** Wrap an fs error thrown while writing `file`. */
  static from(err: unknown, file: string): StoreWriteError {
    if (err instanceof StoreWriteError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    const full = code === 'ENOSPC' || code === 'EDQUOT';
    const what = full ? 'the disk is full' : `write failed (${(err as Error).message})`;
    return new StoreWriteError(full ? 'disk-full' : 'io-error', code, `${file}: ${what}; the command was not stored`);
  }
}
