/**
 * Binding a unix socket that nobody but its owner can reach at any instant. `listen(path)`
 * creates the socket file with mode `0777 & ~umask` (0755 under the usual umask), and Linux
 * lets anyone with write permission on that file connect: a `chmod` after `listen` leaves a
 * window. Changing the umask around `listen` would affect every thread's file creation in the
 * process. Instead the socket is bound inside a fresh 0700 directory (unreachable by others
 * whatever the socket's own mode), set to 0600 there, and renamed into place: `rename` is
 * atomic, so at `path` there is either no socket or a 0600 one.
 */
import { chmodSync, mkdtempSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:net';
import { dirname, join } from 'node:path';

/** Mode of the socket file at its final path. */
export const PRIVATE_SOCKET_MODE = 0o600;

/**
 * Listen on the unix socket `path` with {@link PRIVATE_SOCKET_MODE} from the moment it exists
 * there. A file already at `path` is replaced. The staging name (`<dir>/.sXXXXXX/s`) is one
 * character shorter than `<dir>/status.sock`, so it fits wherever the final path fits.
 * @throws the `listen`, `chmod` or `rename` error (nothing is left behind).
 */
export async function listenPrivate(server: Server, path: string): Promise<void> {
  const stage = mkdtempSync(join(dirname(path), '.s'));
  const tmp = join(stage, 's');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(tmp, PRIVATE_SOCKET_MODE);
    renameSync(tmp, path);
  } catch (err) {
    server.close();
    try {
      unlinkSync(tmp);
    } catch {
      /* never bound, or already moved */
    }
    throw err;
  } finally {
    rmdirSync(stage);
  }
}
