/**
 * Bootstrap progress. While a peer answers our polls with `more: true` and holds more commands
 * than we do, we are bootstrapping from it: on an interactive terminal a bar shows our command
 * count against the peer's `total` (the size of its graph, sent in every `PollResponse` and
 * reported by the engine's `poll-answer` event); off a terminal (systemd, a container) the logger
 * records the bootstrap's start, progress at most every `intervalMs`, and its end.
 *
 * Log lines (info; `peer` is the remote peer we bootstrap from):
 * - `bootstrap started`  {peer, have, total}
 * - `bootstrap progress` {peer, have, total, commands, bytes, durationMs} — every `intervalMs`
 *   (default 10 s) while it lasts, also when nothing arrived (a stalled bootstrap shows as such)
 * - `bootstrap finished` {peer, have, total, commands, bytes, durationMs} — the peer said no more
 * - `bootstrap interrupted` (warn) {…the same, reason} — the peer went away, or we shut down
 *
 * `commands` and `bytes` count what arrived from that peer since the start (encoded command
 * bytes, as stored).
 */
import type { Engine, PollAnswer } from '../sync/engine.js';
import type { JsonLogger } from './logger.js';

/** Where the bar is drawn. */
export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** Off-terminal reporting. */
export interface ProgressOptions {
  /** Logger for the lines above; without one nothing is reported off a terminal. */
  log?: JsonLogger;
  /** Least time between two progress lines, ms. Default 10 000. */
  intervalMs?: number;
}

/** Render one bar line (no newline). */
export function renderBar(label: string, have: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, have / total) : 1;
  const full = Math.round(frac * width);
  return `${label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${have}/${total} commands ${Math.floor(frac * 100)}%`;
}

/** One bootstrap in progress. */
interface Run {
  peer: string;
  total: number;
  commands: number;
  bytes: number;
  startedAt: number;
}

/** Reports bootstraps: a bar on a TTY, log lines elsewhere (with a logger), else nothing. */
export class BootstrapProgress {
  private readonly mode: 'bar' | 'log' | 'off';
  private active: Run | null = null;
  private lastDraw = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: JsonLogger | undefined;
  private readonly intervalMs: number;
  private readonly onCommands = (handles: number[], from: string): void => this.added(handles, from);
  private readonly onAnswer = (peer: string, a: PollAnswer): void => this.answer(peer, a);
  private readonly onDown = (peer: string): void => {
    if (this.active?.peer === peer) this.end('interrupted', 'peer down');
  };

  constructor(
    private readonly engine: Engine,
    private readonly out: ProgressOutput = process.stderr,
    opts: ProgressOptions = {},
  ) {
    this.log = opts.log;
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.mode = out.isTTY ? 'bar' : this.log !== undefined ? 'log' : 'off';
    if (this.mode === 'off') return;
    engine.on('commands', this.onCommands);
    engine.on('poll-answer', this.onAnswer);
    engine.on('peer-down', this.onDown);
  }

  /** Stop listening; a bootstrap still running is reported as interrupted. */
  stop(): void {
    this.engine.off('commands', this.onCommands);
    this.engine.off('poll-answer', this.onAnswer);
    this.engine.off('peer-down', this.onDown);
    if (this.active !== null) this.end('interrupted', 'shutdown');
  }

  private answer(peer: string, a: PollAnswer): void {
    if (a.more) {
      if (this.active === null && a.total > this.engine.store.size) this.begin(peer, a.total);
      if (this.active?.peer !== peer) return;
      this.active.total = Math.max(this.active.total, a.total);
      this.draw(false);
      return;
    }
    const run = this.active;
    if (run === null || run.peer !== peer) return;
    // The answer's commands are being ingested: finish once they are in the store.
    void this.engine.idle().then(() => {
      if (this.active === run) this.end('finished');
    });
  }

  private begin(peer: string, total: number): void {
    this.active = { peer, total, commands: 0, bytes: 0, startedAt: Date.now() };
    if (this.mode !== 'log') return;
    this.log!.info({ peer, have: this.engine.store.size, total }, 'bootstrap started');
    this.timer = setInterval(() => this.report('bootstrap progress'), this.intervalMs);
    this.timer.unref();
  }

  private added(handles: number[], from: string): void {
    const run = this.active;
    if (run === null || from !== run.peer) return;
    run.commands += handles.length;
    for (const h of handles) run.bytes += this.engine.store.lengthOf(h);
    this.draw(false);
  }

  private end(how: 'finished' | 'interrupted', reason?: string): void {
    const run = this.active!;
    clearInterval(this.timer);
    if (this.mode === 'bar') {
      if (how === 'finished') {
        run.total = Math.max(run.total, this.engine.store.size);
        this.draw(true);
      }
      this.out.write('\n');
    } else {
      this.report(`bootstrap ${how}`, reason);
    }
    this.active = null;
  }

  private report(msg: string, reason?: string): void {
    const run = this.active;
    if (run === null || this.log === undefined) return;
    const fields = {
      peer: run.peer,
      have: this.engine.store.size,
      total: Math.max(run.total, this.engine.store.size),
      commands: run.commands,
      bytes: run.bytes,
      durationMs: Date.now() - run.startedAt,
      ...(reason !== undefined ? { reason } : {}),
    };
    if (reason !== undefined) this.log.warn(fields, msg);
    else this.log.info(fields, msg);
  }

  private draw(force: boolean): void {
    if (this.active === null || this.mode !== 'bar') return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const label = `bootstrap from ${this.active.peer}`;
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - label.length - 36));
    this.out.write(`\r${renderBar(label, this.engine.store.size, this.active.total, width)}\x1b[K`);
  }
}
