/**
 * One writer per data directory, held by the kernel: the lock is a listening unix socket in
 * Linux's abstract namespace, named after the data directory's identity
 * (`\0syncwire-lock-<sha256(st_dev:st_ino)>`).
 *
 * Why this and not a pid file: binding an address is atomic (exactly one `bind` succeeds, the
 * rest get EADDRINUSE), and the kernel unbinds it when the socket's last descriptor closes, i.e.
 * when the process dies by any means, SIGKILL included. So there is nothing to take over: no
 * "read pid → unlink → create" race, no pid reuse (after a reboot, or pid 1 in a container) to
 * fool it, and no stale state that could block a start. Node has no flock(2)/fcntl(2); the native
 * packages that add it (fs-ext) need a compiler on the board at install time, and spawning
 * util-linux `flock` would tie the lock to a helper process. Naming the socket after
 * (st_dev, st_ino) rather than the path makes symlinks and bind mounts of one directory share a
 * lock.
 *
 * Scope: the abstract namespace belongs to the network namespace. Two containers with separate
 * network namespaces sharing one data directory would each get the lock; don't do that (give
 * each container its own data directory, or share the network namespace).
 *
 * `<dataDir>/syncwire.lock` is written beside it for humans only (pid, role, start time, boot
 * id): nothing reads it to decide anything, so a stale or foreign one is simply overwritten.
 * A contender learns who holds the lock by connecting to the socket: the holder answers with the
 * same JSON.
 *
 * On platforms without an abstract namespace (not Linux: development machines only) the socket
 * is a file in the data directory and a dead holder's file is unlinked and bound again; that
 * takeover is not race-free, which is acceptable only because no production target runs there.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { EXIT } from './exit-codes.js';

/** Name of the informational lock file inside the data directory. */
export const LOCK_FILE = 'syncwire.lock';

/** Who holds a lock: `agent` (and `gateway`) run for long; `commit` holds it for a moment. */
export type LockRole = 'agent' | 'gateway' | 'commit';

/** What a holder tells a contender (and writes to {@link LOCK_FILE}). */
export interface LockHolder {
  pid: number;
  role: LockRole;
  /** ISO time the lock was taken. */
  since: string;
  /** `/proc/sys/kernel/random/boot_id`, to tell a pid of this boot from one of an earlier boot. */
  bootId?: string;
  /** The holder's status socket, when it serves one. */
  statusSocket?: string;
}

/** The data directory is in use by another live process. */
export class LockedError extends Error {
  override readonly name = 'LockedError';
  /** 78 when an agent holds it (two agents configured on one directory), else 75: try again. */
  readonly exitCode: number;
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder | undefined,
  ) {
    const who = holder ? `process ${holder.pid} (${holder.role}, since ${holder.since})` : 'process ? (a process that did not say who it is)';
    const long = holder?.role === 'agent' || holder?.role === 'gateway';
    super(
      `${join(dataDir, LOCK_FILE)} is held by ${who}; ` +
        (long ? 'two agents cannot share a data directory: stop that one, or use its status socket' : 'try again when it is done'),
    );
    this.exitCode = long ? EXIT.config : EXIT.tempFail;
  }
}

/** A held lock; `release()` frees it (idempotent). Death of the process frees it too. */
export interface Lock {
  /** The socket address (`\0…` on Linux). */
  readonly address: string;
  release(): Promise<void>;
}

/** Options of {@link acquireLock}. */
export interface AcquireOptions {
  role: LockRole;
  /** Keep trying this long while another process holds it. Default 0 (one try). */
  waitMs?: number;
  /** Announced to contenders. */
  statusSocket?: string;
}

/** The lock's socket address for `dataDir` (which must exist). */
export function lockAddress(dataDir: string): string {
  const st = statSync(dataDir, { bigint: true });
  const key = createHash('sha256').update(`syncwire-lock\0${st.dev}:${st.ino}`).digest('hex').slice(0, 40);
  return process.platform === 'linux' ? `\0syncwire-lock-${key}` : join(dataDir, 'syncwire.lock.sock');
}

/**
 * Take the lock of `dataDir` (which must exist) for the life of this process or until released.
 * @throws LockedError when another live process still holds it after `waitMs`.
 */
export async function acquireLock(dataDir: string, opts: AcquireOptions): Promise<Lock> {
  const address = lockAddress(dataDir);
  const token = randomBytes(8).toString('hex');
  const info: LockHolder = { pid: process.pid, role: opts.role, since: new Date().toISOString() };
  const boot = bootId();
  if (boot !== undefined) info.bootId = boot;
  if (opts.statusSocket) info.statusSocket = opts.statusSocket;
  const answer = JSON.stringify(info) + '\n';
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    const server = net.createServer((sock) => {
      sock.on('error', () => sock.destroy());
      sock.end(answer);
    });
    const err = await listen(server, address);
    if (err === null) {
      server.unref();
      const file = join(dataDir, LOCK_FILE);
      try {
        writeFileSync(file, JSON.stringify({ ...info, token }) + '\n', { mode: 0o600 });
      } catch {
        /* informational only: a full disk must not stop the lock */
      }
      return { address, release: () => release(server, file, token) };
    }
    if (err.code !== 'EADDRINUSE') throw err;
    const holder = await askHolder(address);
    if (holder === 'gone' && process.platform !== 'linux') {
      tryUnlink(address); // best effort on development platforms; see the module doc
      continue;
    }
    if (holder === 'gone') {
      // Released between our bind and our connect (or bound, not yet listening): bind again.
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    if (Date.now() >= deadline) throw new LockedError(dataDir, holder ?? undefined);
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
  }
}

/** Who holds the lock of `dataDir` now (asked over its socket), or undefined when nobody does. */
export async function lockHolder(dataDir: string): Promise<LockHolder | undefined> {
  const h = await askHolder(lockAddress(dataDir));
  return h === 'gone' || h === null ? undefined : h;
}

function listen(server: net.Server, address: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    server.once('error', (err) => resolve(err as NodeJS.ErrnoException));
    server.listen({ path: address, exclusive: true }, () => resolve(null));
  });
}

/** The holder's answer; null if it answers nothing useful in time; 'gone' when nobody listens. */
function askHolder(address: string): Promise<LockHolder | null | 'gone'> {
  return new Promise((resolve) => {
    const sock = net.connect({ path: address });
    let buf = '';
    const timer = setTimeout(() => sock.destroy(), 2000);
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      buf += c;
      if (buf.length > 4096) sock.destroy();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'gone' : null);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(parseHolder(buf));
    });
  });
}

function parseHolder(text: string): LockHolder | null {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid !== 'number' || typeof v.role !== 'string' || typeof v.since !== 'string') return null;
    return v as LockHolder;
  } catch {
    return null;
  }
}

async function release(server: net.Server, file: string, token: string): Promise<void> {
  if (!server.listening) return;
  try {
    // Only our own note: after a release another process may already have written its own.
    if ((JSON.parse(readFileSync(file, 'utf8')) as { token?: string }).token === token) unlinkSync(file);
  } catch {
    /* gone or not ours */
  }
  await new Promise<void>((r) => server.close(() => r()));
}

function tryUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* raced with another taker */
  }
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}
