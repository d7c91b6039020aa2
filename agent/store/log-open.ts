/**
 * Opening a command log: create it if missing, refuse a foreign file, rebuild the index by
 * scanning, and cut the file at the first record that cannot be trusted. Also the in-process
 * guard against two stores writing one directory.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, realpathSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCommand, type Command } from '../../protocol/command.js';
import { CommandIndex } from './command-index.js';
import { HEADER_BYTES, checkHeader, encodeHeader, fsyncDir, scanLog } from './log-format.js';

/** Real paths of directories open in this process: a second writer would corrupt the log. */
const openDirs = new Set<string>();

/** A log file ready for appending, with the index of what it holds. */
export interface OpenedLog {
  /** Real path of the store directory (the key to pass to {@link releaseDir}). */
  dir: string;
  /** Absolute path of the log file. */
  file: string;
  /** Read-write descriptor. */
  fd: number;
  index: CommandIndex;
  /** File size after repair: where the next record goes. */
  end: number;
  /** Bytes cut from a torn header or a torn/corrupt tail. */
  truncatedBytes: number;
}

/**
 * Open `name` in `dir` (creating both: directory 0o700, file 0o600), lock the directory for this
 * process, and recover: a torn header is rewritten, the records are scanned and the file is cut
 * (ftruncate + fsync) at the first torn, corrupt, undecodable, duplicate or orphan record. Each
 * repair goes to `logger`. Signatures are not re-verified: the log is local and CRC-protected.
 * @throws Error when the directory is already open here or the file is not a usable log (the
 *   file is then left untouched and the lock released).
 */
export function openLog(dir: string, name: string, logger: (msg: string, fields?: object) => void): OpenedLog {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const real = realpathSync(dir);
  if (openDirs.has(real)) throw new Error(`command store ${real} is already open in this process`);
  const file = join(real, name);
  let fd = -1;
  openDirs.add(real);
  try {
    let created = false;
    try {
      fd = openSync(file, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fd = openSync(file, 'wx+', 0o600);
      created = true;
    }
    let size = fstatSync(fd).size;
    let truncatedBytes = 0;
    const head = Buffer.alloc(Math.min(size, HEADER_BYTES));
    readSync(fd, head, 0, head.length, 0);
    if (checkHeader(head, file) === 'torn') {
      // A crash while creating the file: no record was ever committed, so rewriting loses nothing.
      truncatedBytes = size;
      if (size > 0) logger('command log: rewrote torn header', { file, truncatedBytes });
      ftruncateSync(fd, 0);
      writeSync(fd, encodeHeader(), 0, HEADER_BYTES, 0);
      fsyncSync(fd);
      if (created) fsyncDir(real);
      size = HEADER_BYTES;
    }
    const index = new CommandIndex();
    const scan = scanLog(fd, HEADER_BYTES, size, (body, offset) => indexRecord(index, body, offset));
    if (scan.goodEnd < size) {
      const cut = size - scan.goodEnd;
      truncatedBytes += cut;
      logger('command log: truncated torn or corrupt tail', { file, offset: scan.goodEnd, truncatedBytes: cut, reason: scan.reason });
      ftruncateSync(fd, scan.goodEnd);
      fsyncSync(fd);
    }
    return { dir: real, file, fd, index, end: scan.goodEnd, truncatedBytes };
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    openDirs.delete(real);
    throw err;
  }
}

/** Let the directory `dir` (an {@link OpenedLog.dir}) be opened again. */
export function releaseDir(dir: string): void {
  openDirs.delete(dir);
}

/** Scan visitor: index one record, or say why the log must end before it. */
function indexRecord(index: CommandIndex, body: Uint8Array, offset: number): string | null {
  let cmd: Command;
  try {
    cmd = decodeCommand(body);
  } catch (err) {
    return `undecodable command: ${(err as Error).message}`;
  }
  if (index.indexOf(cmd.id) >= 0) return 'duplicate command';
  const parents = index.resolveParents(cmd.parents);
  if (parents === null) return 'command whose parent is not before it';
  index.add(cmd.id, parents, body.length, offset, cmd.author, cmd.seq);
  return null;
}
