/**
 * Telling systemd how the agent is doing (`Type=notify`, `WatchdogSec=`): `READY=1` once the
 * store is open and the links are attached, `WATCHDOG=1` every `WATCHDOG_USEC`/2 while the event
 * loop is healthy (loop-health.ts), `RELOADING=1`/`READY=1` around a trust reload, `STOPPING=1`
 * at shutdown, `STATUS=` text for `systemctl status`. Without `NOTIFY_SOCKET` (not started by
 * systemd, or `Type=exec`) every call is a no-op.
 *
 * **How the datagram is sent: by spawning `systemd-notify`.** The notify socket is an AF_UNIX
 * datagram socket, which Node cannot open (`dgram` is UDP only). The choices were a native addon
 * (`sd-notify` and friends: a node-gyp build, with no prebuilt binaries for armv7, so a Pi
 * install would need a compiler and libsystemd-dev, and a binary to rebuild on every Node ABI
 * change) or the `systemd-notify` tool, which ships with systemd itself (package `systemd`,
 * present wherever the unit can run). We spawn the tool. The classic objection — a short-lived
 * sender exits before PID 1 reads its message, PID 1 then cannot attribute it to the unit and
 * drops it, even with `NotifyAccess=all` — is gone since systemd 246: `systemd-notify` sends a
 * `BARRIER=1` message carrying a pipe's write end after the real one and waits (up to 5 s) until
 * PID 1 closes it, i.e. until PID 1 has processed everything before it (systemd PR #15547, "Introduce
 * sd_notify_barrier", fixing issue #2739; observed on 252 here: the tool sends `BARRIER=1` and, against a
 * receiver that keeps the fd, fails after 5 s with "Failed to invoke barrier"). The unit sets
 * `NotifyAccess=all` because the sender is our child, not the main process.
 *
 * The costs and how they are bounded: one fork+exec per message (a watchdog ping every 15 s with
 * the shipped unit) — spawning is asynchronous, nothing here waits for the child on the event
 * loop; **one child at a time**: what is asked while one runs is queued and coalesced (one
 * `WATCHDOG=1` pending at most, the latest `STATUS=` wins, state changes keep their order) and
 * sent by the next child; a child that hangs is killed after `timeoutMs`; a missing binary is
 * logged once and turns the notifier off (the agent runs on, unsupervised by the watchdog).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { silentLogger, type Logger } from './log.js';

/** The notifier; every method is safe to call at any time and never throws. */
export interface Notifier {
  /** False without `NOTIFY_SOCKET`, or after the binary turned out missing, or after close(). */
  readonly enabled: boolean;
  /** `WATCHDOG_USEC`/2 in ms when systemd asked for a watchdog for this process (`WATCHDOG_PID` unset or ours); else null. */
  readonly watchdogIntervalMs: number | null;
  /** `READY=1`: start-up (or a reload) complete. */
  ready(): void;
  /** `WATCHDOG=1` now (normally sent by {@link Notifier.startWatchdog}). */
  watchdogPing(): void;
  /** `STOPPING=1`: shutdown begun. Stops the watchdog timer. */
  stopping(): void;
  /** `RELOADING=1`: a reload begun; send {@link Notifier.ready} when it is done. */
  reloading(): void;
  /** `STATUS=<text>` (line breaks become spaces). */
  status(text: string): void;
  /**
   * Ping at once and then every {@link Notifier.watchdogIntervalMs} while `healthy()` holds; a
   * due ping is held back while it does not (so systemd's timer runs out on a wedged loop and
   * restarts it) and sent at the first healthy check after (checks: every interval/5, at most
   * 1 s apart). No-op without a watchdog. The timer is unref'd.
   */
  startWatchdog(healthy: () => boolean): void;
  /** Stop the watchdog, send what is queued (bounded by the timeout), then disable. */
  close(): Promise<void>;
}

/** Tuning; every field has a default. */
export interface NotifierOptions {
  /** Where failures are logged. Default: nowhere. */
  log?: Logger;
  /** The tool (looked up on the `PATH` of `env`). Default `systemd-notify`. */
  binary?: string;
  /** A child still running after this long is killed, ms. Default 10,000 (the tool's own barrier waits 5 s). */
  timeoutMs?: number;
  /** Most state messages queued while one child runs; more are dropped (logged). Default 16. */
  maxQueued?: number;
}

const NOOP_NOTIFIER: Notifier = Object.freeze({
  enabled: false,
  watchdogIntervalMs: null,
  ready() {},
  watchdogPing() {},
  stopping() {},
  reloading() {},
  status() {},
  startWatchdog() {},
  close: () => Promise.resolve(),
});

/** `WATCHDOG_USEC`/2 in ms, honouring `WATCHDOG_PID`; null when no watchdog applies to this process. */
export function watchdogIntervalFrom(env: NodeJS.ProcessEnv, pid = process.pid): number | null {
  const usec = env.WATCHDOG_USEC;
  if (usec === undefined || !/^[1-9][0-9]*$/.test(usec)) return null;
  const forPid = env.WATCHDOG_PID;
  if (forPid !== undefined && forPid !== '' && forPid !== String(pid)) return null;
  return Math.max(1, Math.floor(Number(usec) / 2000));
}

/**
 * A notifier for the service manager named by `env.NOTIFY_SOCKET` (the process environment by
 * default; the child gets `env` as its environment). See the module comment.
 */
export function createNotifier(env: NodeJS.ProcessEnv = process.env, opts: NotifierOptions = {}): Notifier {
  if (env.NOTIFY_SOCKET === undefined || env.NOTIFY_SOCKET === '') return NOOP_NOTIFIER;
  return new SpawningNotifier(env, opts);
}

class SpawningNotifier implements Notifier {
  enabled = true;
  readonly watchdogIntervalMs: number | null;
  private readonly log: Logger;
  private readonly binary: string;
  private readonly timeoutMs: number;
  private readonly maxQueued: number;
  /** Batches not yet handed to a child, oldest first; each becomes one invocation. */
  private readonly queue: string[][] = [];
  private child: ChildProcess | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private drained: (() => void)[] = [];
  private failuresLogged = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    opts: NotifierOptions,
  ) {
    this.log = opts.log ?? silentLogger;
    this.binary = opts.binary ?? 'systemd-notify';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxQueued = opts.maxQueued ?? 16;
    this.watchdogIntervalMs = watchdogIntervalFrom(env);
  }

  ready(): void {
    this.state('READY=1');
  }
  stopping(): void {
    this.stopWatchdog();
    this.state('STOPPING=1');
  }
  reloading(): void {
    this.state('RELOADING=1');
  }

  watchdogPing(): void {
    if (!this.enabled || this.queue.some((b) => b.includes('WATCHDOG=1'))) return;
    this.append('WATCHDOG=1');
  }

  status(text: string): void {
    if (!this.enabled) return;
    const line = `STATUS=${text.replace(/[\r\n]+/g, ' ')}`;
    for (const b of this.queue) {
      const i = b.findIndex((a) => a.startsWith('STATUS='));
      if (i >= 0) {
        b[i] = line; // the newest text replaces one not yet sent
        return;
      }
    }
    this.append(line);
  }

  startWatchdog(healthy: () => boolean): void {
    const every = this.watchdogIntervalMs;
    if (!this.enabled || every === null || this.watchdog !== null) return;
    // Health is checked more often than pings are due, so a ping skipped during a stall is sent
    // as soon as the loop is healthy again rather than a whole interval later (two skipped
    // intervals would be the whole WatchdogSec).
    const checkMs = Math.min(1000, Math.max(10, Math.floor(every / 5)));
    let last = -Infinity;
    const tick = (): void => {
      const t = performance.now();
      if (t - last >= every && healthy()) {
        last = t;
        this.watchdogPing();
      }
    };
    tick();
    this.watchdog = setInterval(tick, checkMs);
    this.watchdog.unref();
  }

  async close(): Promise<void> {
    this.stopWatchdog();
    if (this.child !== null || this.queue.length > 0) await new Promise<void>((r) => this.drained.push(r));
    this.enabled = false;
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  /** A state change: its own batch, after everything queued (order matters to systemd). */
  private state(assignment: string): void {
    if (!this.enabled) return;
    if (this.queue.length >= this.maxQueued) {
      this.log.warn({ dropped: assignment, queued: this.queue.length }, 'systemd notification dropped: too many queued');
      return;
    }
    this.queue.push([assignment]);
    this.pump();
  }

  /** A message that may ride along with a queued batch. */
  private append(assignment: string): void {
    const last = this.queue[this.queue.length - 1];
    if (last !== undefined) last.push(assignment);
    else this.queue.push([assignment]);
    this.pump();
  }

  private pump(): void {
    if (this.child !== null) return;
    const batch = this.queue.shift();
    if (batch === undefined || !this.enabled) {
      this.queue.length = 0;
      for (const r of this.drained.splice(0)) r();
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(this.binary, batch, { env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      this.disable(err as Error);
      return this.pump();
    }
    this.child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < 500) stderr += s;
    });
    const timer = setTimeout(() => {
      this.failed(batch, `no exit after ${this.timeoutMs} ms; killed`);
      child.kill('SIGKILL');
    }, this.timeoutMs);
    timer.unref();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.child = null;
      this.pump();
    };
    child.once('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.disable(err);
      else this.failed(batch, err.message);
      finish();
    });
    child.once('close', (code, signal) => {
      // After 'error' (no such binary) Node may still report a close: already handled.
      if (!done && code !== 0 && signal === null) this.failed(batch, `exit status ${code}: ${stderr.trim()}`);
      finish();
    });
  }

  /** Log the first few failures, then one in a hundred: a broken setup must not flood the journal every 15 s. */
  private failed(batch: string[], why: string): void {
    const n = ++this.failuresLogged;
    if (n <= 3 || n % 100 === 0) this.log.warn({ binary: this.binary, message: batch, failures: n }, `systemd notification failed: ${why}`);
  }

  private disable(err: Error): void {
    if (!this.enabled) return;
    this.enabled = false;
    this.stopWatchdog();
    this.log.warn({ binary: this.binary, err: err.message }, `cannot run ${this.binary}: systemd notifications (readiness, watchdog) are off`);
  }
}
