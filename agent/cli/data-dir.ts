/**
 * Preparing the data directory at start: create it (mode 0700) and prove it can be written, so
 * a directory the agent may never write is reported as what it is, a configuration problem
 * (exit 78, which systemd does not restart), instead of failing later as a runtime error.
 */
import { closeSync, existsSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StoreError } from '../store/store-errors.js';
import { StoreWriteError } from '../store/write-error.js';
import { EXIT, isNoSpace, isUnwritable } from './exit-codes.js';

/** The data directory cannot be created or written. Exit status 78. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  readonly exitCode = EXIT.config;
  constructor(
    readonly dataDir: string,
    /** The errno code: EACCES, EPERM, EROFS, ENOTDIR... */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the probe found. `full`: writable, but the disk (or quota) is full right now. */
export type DataDirState = 'ok' | 'full';

/**
 * Create `dir` if missing and probe a write (a small file, created and removed).
 * @returns 'full' when only space is lacking: the agent starts anyway (a full disk passes) and
 *   refuses commits until space returns.
 * @throws DataDirError when the directory cannot be created or written (EACCES, EROFS, ...);
 *   any other error as it is.
 */
export function prepareDataDir(dir: string): DataDirState {
  const fail = (err: unknown, what: string): never => {
    const code = (err as NodeJS.ErrnoException).code;
    if (isUnwritable(code)) {
      throw new DataDirError(dir, code!, `data directory ${dir}: cannot ${what} (${code}); check its path, owner and mode, and that its file system is mounted read-write`);
    }
    throw err;
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    // A recursive mkdir on a read-only mount reports ENOENT; one plain mkdir says EROFS.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync(dirname(dir))) fail(err, 'create it');
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err2) {
      fail(err2, 'create it');
    }
  }
  const probe = join(dir, `.write-probe-${process.pid}`);
  let fd = -1;
  try {
    fd = openSync(probe, 'w', 0o600);
    writeSync(fd, 'x');
    return 'ok';
  } catch (err) {
    if (isNoSpace((err as NodeJS.ErrnoException).code)) return 'full';
    return fail(err, 'write in it');
  } finally {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(probe);
    } catch {
      /* never created */
    }
  }
}

/** The command log cannot be opened as it is (unreadable header, unknown version...). Exit 78. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
  readonly exitCode = EXIT.config;
}

/**
 * What a failed `DiskStore.open` means for the exit status: a named store error (StoreError,
 * StoreWriteError) keeps its own; an unwritable path is a {@link DataDirError} (78); a full
 * disk keeps its errno (exit 1, restarted with back-off: freeing space fixes it); other I/O
 * errors (EIO) stay as they are (1); any other error is taken for the log's content and becomes
 * a {@link StoreOpenError} (78: restarting reads the same bytes again).
 */
export function storeOpenFailure(err: unknown, dir: string): Error {
  if (err instanceof StoreError || err instanceof StoreWriteError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (isUnwritable(code)) return new DataDirError(dir, code!, `data directory ${dir}: cannot open the command log (${code}): ${(err as Error).message}`);
  if (typeof code === 'string') return err as Error;
  return new StoreOpenError(`command log in ${dir}: ${(err as Error).message}; run \`syncwire store check --data-dir ${dir}\``);
}
