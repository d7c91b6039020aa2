/**
 * A bootstrap progress bar on an interactive terminal: while a peer answers our polls with
 * `more: true`, show our command count against the peer's `total` (the size of its graph, sent
 * in every `PollResponse` and reported by the engine's `poll-answer` event).
 */
import type { Engine, PollAnswer } from '../sync/engine.js';

/** Where the bar is drawn. */
export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** Render one bar line (no newline). */
export function renderBar(label: string, have: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, have / total) : 1;
  const full = Math.round(frac * width);
  return `${label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${have}/${total} commands ${Math.floor(frac * 100)}%`;
}

/** Draws the bar while a peer bootstraps us. Inert when `out` is not a TTY. */
export class BootstrapProgress {
  private active: { label: string; total: number } | null = null;
  private lastDraw = 0;
  private readonly onCommands = (): void => this.draw(false);
  private readonly onAnswer = (peer: string, a: PollAnswer): void => this.answer(peer, a);

  constructor(
    private readonly engine: Engine,
    private readonly out: ProgressOutput = process.stderr,
  ) {
    if (!out.isTTY) return;
    engine.on('commands', this.onCommands);
    engine.on('poll-answer', this.onAnswer);
  }

  private answer(peer: string, a: PollAnswer): void {
    if (a.more) {
      if (this.active === null && a.total > this.engine.store.size) this.active = { label: `bootstrap from ${peer}`, total: a.total };
      if (this.active !== null) this.active.total = Math.max(this.active.total, a.total);
      this.draw(false);
      return;
    }
    const bar = this.active;
    if (bar === null) return;
    // The answer's commands are being ingested: finish the bar once they are in the store.
    void this.engine.ingest.idle().then(() => {
      if (this.active !== bar) return;
      bar.total = Math.max(bar.total, this.engine.store.size);
      this.draw(true);
      this.out.write('\n');
      this.active = null;
    });
  }

  /** Stop listening. */
  stop(): void {
    this.engine.off('commands', this.onCommands);
    this.engine.off('poll-answer', this.onAnswer);
    if (this.active !== null) this.out.write('\n');
    this.active = null;
  }

  private draw(force: boolean): void {
    if (this.active === null) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - this.active.label.length - 36));
    this.out.write(`\r${renderBar(this.active.label, this.engine.store.size, this.active.total, width)}\x1b[K`);
  }
}
