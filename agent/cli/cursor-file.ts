/**
 * The cursor file of `syncwire tail --exec`: the cursor of the last command the program handled
 * (exited 0 on), one line of text. Written atomically — a temp file beside it, fsync, rename,
 * fsync of the directory — so after a crash the file holds either the old cursor or the new one,
 * never a torn mix, and a restarted tail resumes right after the last acknowledged command.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from './config.js';

/** A cursor file that exists but holds no cursor. Exit status 78 (fix or remove the file). */
export class CursorFileError extends ConfigError {
  override readonly name: string = 'CursorFileError';
}

/** What a cursor looks like (`<handle>-<16 hex>`, api.md §Cursor); the agent checks the rest. */
const CURSOR_RE = /^(0|[1-9][0-9]*)-[0-9a-f]{16}$/;

/** True when `text` has a cursor's syntax (whether the store holds it is the agent's to say). */
export function isCursor(text: string): boolean {
  return CURSOR_RE.test(text);
}

/**
 * The cursor stored in `path`, or undefined when the file does not exist.
 * @throws CursorFileError when it exists but does not hold one cursor; the fs error otherwise.
 */
export function readCursorFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const cursor = text.trim();
  if (!isCursor(cursor)) throw new CursorFileError(`${path}: not a cursor file (expected one cursor like 12-0123456789abcdef, got ${JSON.stringify(cursor.slice(0, 40))}); remove it to start from --after or the first command`);
  return cursor;
}

/** Replace the content of `path` with `cursor` atomically and durably (see the module comment). */
export function writeCursorFile(path: string, cursor: string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, cursor + '\n');
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  // The rename itself is durable only once the directory is.
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
