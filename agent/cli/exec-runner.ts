/**
 * `syncwire tail --exec CMD`: run a program once per command, at least once, in order.
 *
 * CMD runs through `/bin/sh -c` with the payload on stdin and `SYNCWIRE_ID`, `SYNCWIRE_CURSOR`,
 * `SYNCWIRE_AUTHOR`, `SYNCWIRE_SEQ` (protocol 2 also `SYNCWIRE_SCOPE`, `SYNCWIRE_KIND`) in its
 * environment (stdout and stderr are tail's). One
 * program runs at a time. Once it exits 0 the command's cursor is written to the cursor file
 * (cursor-file.ts: atomic and fsynced) and only then is the next command taken, so a restarted
 * tail resumes after the last acknowledged command; a crash between the program's exit and the
 * cursor write runs that command again (at-least-once). A program that fails (non-zero exit,
 * killed, or not startable) is run again after a back-off of 1 s doubling to 60 s, logged on
 * stderr each time: a command is never skipped.
 *
 * Each program runs in its own process group, so stopping (the signal aborts) while it runs
 * reaches everything it started: SIGTERM to the group, SIGKILL after {@link EXEC_KILL_AFTER_MS}
 * if it is still there; if the program still exits 0 the command counts as handled. (Ctrl-C
 * therefore reaches the program through tail, not from the terminal directly. If tail itself is
 * SIGKILLed, the group outlives it; under systemd the unit's cgroup kill takes it.)
 */
import { spawn } from 'node:child_process';
import { writeCursorFile } from './cursor-file.js';
import type { StreamedCommand } from './command-line.js';

/** First retry delay of a failing program. */
export const EXEC_FIRST_BACKOFF_MS = 1000;
/** Longest retry delay. */
export const EXEC_MAX_BACKOFF_MS = 60_000;
/** How long a stopped program may take to exit after SIGTERM before its group gets SIGKILL. */
export const EXEC_KILL_AFTER_MS = 10_000;

/** Options of {@link runExec}. */
export interface ExecOptions {
  /** The shell command line. */
  command: string;
  /** Where the cursor of each handled command is written. */
  cursorFile: string;
  /** Aborting stops retrying and ends a running program (SIGTERM). */
  signal: AbortSignal;
  /** One line of text for stderr (a failure and its retry). */
  log: (line: string) => void;
  /** Base environment of the program. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** How {@link runExec} ended: the command was handled (cursor written), or stopping came first. */
export type ExecOutcome = 'handled' | 'stopped';

/** How one run of the program ended. */
interface RunEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/**
 * `SYNCWIRE_SCOPE` and `SYNCWIRE_KIND` (`data`, `genesis`, `membership`, `v1`) of a protocol 2
 * line, so a program can skip a scope's genesis and membership commands; none for a v1 line.
 */
function scopeEnv(cmd: StreamedCommand): Record<string, string> {
  // A v2 line carries these beside the v1 fields (parseStreamLine keeps every field).
  const { scope, kind } = cmd as StreamedCommand & { scope?: unknown; kind?: unknown };
  return { ...(typeof scope === 'string' ? { SYNCWIRE_SCOPE: scope } : {}), ...(typeof kind === 'string' ? { SYNCWIRE_KIND: kind } : {}) };
}

function runOnce(opts: ExecOptions, cmd: StreamedCommand): Promise<RunEnd> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', opts.command], {
      stdio: ['pipe', 'inherit', 'inherit'],
      // Its own process group: a shell does not pass SIGTERM on to what it runs.
      detached: true,
      env: { ...(opts.env ?? process.env), SYNCWIRE_ID: cmd.id, SYNCWIRE_CURSOR: cmd.cursor, SYNCWIRE_AUTHOR: cmd.author, SYNCWIRE_SEQ: String(cmd.seq), ...scopeEnv(cmd) },
    });
    let ended = false;
    let killTimer: NodeJS.Timeout | undefined;
    const end = (e: RunEnd): void => {
      if (ended) return;
      ended = true;
      clearTimeout(killTimer);
      opts.signal.removeEventListener('abort', onAbort);
      resolve(e);
    };
    const killGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const onAbort = (): void => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), EXEC_KILL_AFTER_MS);
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => end({ code: null, signal: null, error }));
    child.on('exit', (code, signal) => end({ code, signal }));
    // A program that does not read its stdin closes the pipe: EPIPE is not a failure of ours.
    child.stdin.on('error', () => {});
    child.stdin.end(Buffer.from(cmd.payload, 'base64'));
  });
}

/** Resolves after `ms`, or at once when `signal` aborts; true when it aborted. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function describeEnd(e: RunEnd): string {
  if (e.error !== undefined) return `could not start: ${e.error.message}`;
  return e.signal !== null ? `was killed by ${e.signal}` : `exited ${e.code}`;
}

/**
 * Run the program for `cmd` until it exits 0 (retrying with back-off), then write its cursor.
 * @returns 'handled' once the cursor file holds `cmd.cursor`; 'stopped' when the signal aborted
 *   first (the cursor file then still names the previous command).
 * @throws the cursor file's write error (the command ran, but its acknowledgement could not be
 *   kept: continuing would lose at-least-once).
 */
export async function runExec(cmd: StreamedCommand, opts: ExecOptions): Promise<ExecOutcome> {
  let delay = EXEC_FIRST_BACKOFF_MS;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal.aborted) return 'stopped';
    const e = await runOnce(opts, cmd);
    if (e.error === undefined && e.code === 0) {
      writeCursorFile(opts.cursorFile, cmd.cursor);
      return 'handled';
    }
    if (opts.signal.aborted) return 'stopped';
    opts.log(`--exec for ${cmd.cursor} (id ${cmd.id.slice(0, 12)}) ${describeEnd(e)}; attempt ${attempt}, retrying in ${delay / 1000} s`);
    if (await pause(delay, opts.signal)) return 'stopped';
    delay = Math.min(delay * 2, EXEC_MAX_BACKOFF_MS);
  }
}
