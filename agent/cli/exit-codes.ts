/**
 * The one table of process exit statuses, used by `main.ts` and documented in README and
 * `syncwire --help`; which error leads to which status is in exit-status.ts. The codes follow BSD `sysexits.h` where one fits, because the
 * systemd unit (docs/syncwire.service) tells restarts apart by them:
 *
 * | status | meaning | systemd |
 * |---|---|---|
 * | 0 | ok / clean shutdown | — |
 * | 1 | runtime failure (a crash, an I/O error mid-run) | restarts (with back-off) |
 * | 2 | usage error: unknown command or flag, bad value | does not restart (`RestartPreventExitStatus`) |
 * | 65 | `EX_DATAERR`: `store check` found damage (run `store salvage`) | — (not a service status) |
 * | 66 | `EX_NOINPUT`: `store check`/`salvage` found no command log | — (not a service status) |
 * | 75 | `EX_TEMPFAIL`: try again later — the disk is full, or the data directory's lock is held by a short-lived `syncwire commit` past the wait | restarts (with back-off) |
 * | 78 | `EX_CONFIG`: bad config or key file, data directory not writable, command log unreadable or of an unknown version, or another *agent* holds the data directory | does not restart |
 *
 * Why "held by another agent" is 78 and not 75: the lock is the kernel's (see lock.ts), so it
 * is held only while the holder lives; the unit's own previous instance is gone before systemd
 * starts the next (KillMode=control-group). A live agent holding the directory therefore means two
 * agents are configured on one directory, which no restart fixes; 78 leaves the second unit
 * failed and visible (`systemctl --failed`) while the first keeps serving.
 */

/** Exit statuses by kind. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  dataErr: 65,
  noInput: 66,
  tempFail: 75,
  config: 78,
} as const;

/** One of the statuses in {@link EXIT}. */
export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/** Errno codes that mean "this path can never be written as configured": a config problem. */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);
/** Errno codes that pass when space is freed. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** True when `code` (an errno string) says a path cannot be written at all. */
export function isUnwritable(code: unknown): boolean {
  return typeof code === 'string' && UNWRITABLE.has(code);
}

/** True when `code` (an errno string) says the disk or quota is full. */
export function isNoSpace(code: unknown): boolean {
  return typeof code === 'string' && NO_SPACE.has(code);
}

/** One line for `syncwire --help`. */
export const EXIT_HELP =
  'Exit status: 0 ok, 1 failure, 2 usage error, 75 try again later (disk full, lock busy),\n' +
  '78 bad config, key file, data directory or store, or another agent holds the data directory.';
