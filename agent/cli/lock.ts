/**
 * A lock file (`<dataDir>/syncwire.lock`, holding the owner's pid) so two processes never write
 * one command log: the store's own guard covers one process only. A lock whose pid is gone is
 * stale and taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Name of the lock file inside the data directory. */
export const LOCK_FILE = 'syncwire.lock';

/** The data directory is in use by another live process. */
export class LockedError extends Error {
  override readonly name = 'LockedError';
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(`${path} is held by process ${pid} (a running agent); stop it, or use its status socket`);
  }
}

/** A held lock; `release()` removes the file (idempotent). */
export interface Lock {
  readonly path: string;
  release(): void;
}

/** Pid recorded in the lock of `dataDir`, if that process is alive; else undefined. */
export function lockHolder(dataDir: string): number | undefined {
  const path = join(dataDir, LOCK_FILE);
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isSafeInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

/**
 * Take the lock of `dataDir` (which must exist).
 * @throws LockedError when another live process holds it.
 */
export function acquireLock(dataDir: string): Lock {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = lockHolder(dataDir);
      if (holder !== undefined && holder !== process.pid) throw new LockedError(path, holder);
      // Stale (crashed owner) or ours: replace it.
      try {
        unlinkSync(path);
      } catch {
        /* raced with another taker; retry */
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    let held = true;
    return {
      path,
      release() {
        if (!held) return;
        held = false;
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          /* already gone */
        }
      },
    };
  }
  throw new LockedError(path, lockHolder(dataDir) ?? 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
