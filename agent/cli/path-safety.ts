/**
 * Ownership and permission checks on the files an agent trusts: its key file and its data
 * directory. Another local user who can write the data directory can replace the command log or
 * plant a symlink where the lock or status socket goes; one who owns the key file can swap the
 * identity. Such paths are refused (exit status 78), never used with a warning.
 */
import { statSync, type Stats } from 'node:fs';
import { ConfigError } from './config.js';

/** A path whose owner or mode makes it unsafe to use. Exit status 78 (`EX_CONFIG`). */
export class UnsafePathError extends ConfigError {
  override readonly name: string = 'UnsafePathError';
  /** `UnsafeOwner` (owned by someone else) or `UnsafeMode` (group/other permissions too open). */
  override readonly reason: 'UnsafeOwner' | 'UnsafeMode';
  constructor(reason: 'UnsafeOwner' | 'UnsafeMode', message: string) {
    super(message);
    this.reason = reason;
  }
}

/** The effective uid, or undefined where the platform has none (Windows: no check). */
function euid(): number | undefined {
  return typeof process.geteuid === 'function' ? process.geteuid() : undefined;
}

/**
 * Throw unless `st` is owned by the current effective user or by root. Root may own an agent's
 * files (a package installed them) without making them unsafe; any other user could rewrite them.
 * This holds for root too: an agent run as root refuses the `syncwire` user's files, since that
 * user could swap the key or plant symlinks that root would then follow (run it as the owner:
 * `runuser -u syncwire -- syncwire ...`).
 * @throws UnsafePathError `UnsafeOwner`.
 */
export function assertOwner(path: string, st: Stats, what: string): void {
  const me = euid();
  if (me === undefined || st.uid === me || st.uid === 0) return;
  throw new UnsafePathError('UnsafeOwner', `${path}: ${what} is owned by uid ${st.uid}, not by this user (uid ${me}) or root; chown it to the agent's user`);
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/**
 * Refuse a data directory that another user owns or that group or others may write
 * (mode & 0o022). Symlinks are followed: the directory the agent will use is checked. A missing
 * directory passes (the agent creates it with mode 0700); call this before anything is created
 * or probed inside it.
 * @throws UnsafePathError (exit 78); an error with `code` when `path` cannot be stat'ed.
 */
export function assertPrivateDir(path: string, what = 'data directory'): void {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  assertOwner(path, st, what);
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafePathError('UnsafeMode', `${path}: ${what} mode is ${octal(st.mode)}; group and others must not be able to write it (chmod 700 ${path})`);
  }
}

/**
 * Refuse a secret file (key file) that another user owns or that group or others may read or
 * write (mode & 0o077).
 * @throws UnsafePathError (exit 78).
 */
export function assertPrivateFile(path: string, st: Stats, what = 'key file'): void {
  assertOwner(path, st, what);
  if ((st.mode & 0o077) !== 0) {
    throw new UnsafePathError('UnsafeMode', `${path}: ${what} mode is ${octal(st.mode)}; it must not be accessible by group or others (chmod 600 ${path})`);
  }
}
