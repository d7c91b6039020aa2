/**
 * A bootstrap progress bar on an interactive terminal: while a peer answers our polls with
 * `more: true`, show our command count against the peer's `total` (the size of its graph, sent
 * in every `PollResponse`). The header fields are read straight from the frame (a fixed CBOR
 * prefix), so watching costs nothing and never decodes the commands twice.
 */
import type { Link } from '../link.js';
import type { Engine } from '../sync/engine.js';

/** Where the bar is drawn. */
export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** `more`, `total` and `next_poll_ms` of a PollResponse frame body, or null for any other frame. */
export function pollResponseHeader(body: Uint8Array): { more: boolean; total: number; nextPollMs: number } | null {
  // [4, session, more, total, next_poll_ms, ...] — a 7-element array whose first element is the type 4.
  if (body.length < 5 || body[0] !== 0x87 || body[1] !== 0x04) return null;
  const session = readUint(body, 2);
  if (session === null) return null;
  const flag = body[session.next];
  if (flag !== 0xf4 && flag !== 0xf5) return null;
  const total = readUint(body, session.next + 1);
  const hint = total === null ? null : readUint(body, total.next);
  return total === null || hint === null ? null : { more: flag === 0xf5, total: total.value, nextPollMs: hint.value };
}

function readUint(b: Uint8Array, at: number): { value: number; next: number } | null {
  const ib = b[at];
  if (ib === undefined || ib >> 5 !== 0) return null;
  const ai = ib & 0x1f;
  if (ai < 24) return { value: ai, next: at + 1 };
  const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : 0;
  if (n === 0 || at + n >= b.length) return null;
  let v = 0;
  for (let i = 1; i <= n; i++) v = v * 256 + b[at + i]!;
  return { value: v, next: at + 1 + n };
}

/** Render one bar line (no newline). */
export function renderBar(label: string, have: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, have / total) : 1;
  const full = Math.round(frac * width);
  return `${label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${have}/${total} commands ${Math.floor(frac * 100)}%`;
}

/** Draws the bar for every link under bootstrap. Inert when `out` is not a TTY. */
export class BootstrapProgress {
  private active: { label: string; total: number } | null = null;
  private lastDraw = 0;
  private readonly onCommands = (): void => this.draw(false);

  constructor(
    private readonly engine: Engine,
    private readonly out: ProgressOutput = process.stderr,
  ) {
    if (out.isTTY) engine.on('commands', this.onCommands);
  }

  /** Watch a link's poll answers (until its first bootstrap ends). Call after `engine.attach(link)`. */
  watch(link: Link): void {
    if (!this.out.isTTY) return;
    const onFrame = (body: Uint8Array): void => {
      const h = pollResponseHeader(body);
      if (h === null) return;
      if (h.more) {
        if (this.active === null && h.total > this.engine.store.size) this.active = { label: `bootstrap ${link.description}`, total: h.total };
        if (this.active !== null) this.active.total = Math.max(this.active.total, h.total);
        this.draw(false);
      } else {
        link.off('frame', onFrame);
        const bar = this.active;
        if (bar === null) return;
        // The engine saw this frame first (watch after attach): once its ingest queue is
        // idle, the answer's commands are in the store.
        void this.engine.ingest.idle().then(() => {
          if (this.active !== bar) return;
          bar.total = Math.max(bar.total, this.engine.store.size);
          this.draw(true);
          this.out.write('\n');
          this.active = null;
        });
      }
    };
    link.on('frame', onFrame);
    link.once('close', () => link.off('frame', onFrame));
  }

  /** Stop listening. */
  stop(): void {
    this.engine.off('commands', this.onCommands);
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
