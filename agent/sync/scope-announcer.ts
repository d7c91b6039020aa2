/**
 * Sends one link's `Scopes` stop-and-wait (docs/design/v2-scopes.md §3.3 sender rules 3 and 4):
 * at most one unacknowledged; the same message again after 500 ms, 1 s, 2 s, … up to every 8 s;
 * the link closed when one stays unacknowledged for 60 s (the transport redials, and a new link
 * starts a new table). Also the link's front for received `Scopes` and `ScopesAck`: it answers
 * the first and sends whatever the table queued meanwhile (a joined scope's open, a reopen).
 *
 * ```
 * stopped ◀─stop── idle ──flush (something queued)──▶ waiting ──ack──▶ idle (flush again)
 *                                                     │  └─timer: resend (×2, ≤ 8 s)
 *                                                     └─60 s──▶ closeLink ──▶ stopped
 * ```
 */
import type { ScopesAckMessage, ScopesMessage, ScopeTable } from './scope-table.js';

/** First retransmission of an unacknowledged `Scopes`, ms; doubles up to {@link SCOPES_RETRY_MAX_MS}. */
export const SCOPES_RETRY_FIRST_MS = 500;
/** Longest gap between retransmissions, ms. */
export const SCOPES_RETRY_MAX_MS = 8000;
/** A `Scopes` unacknowledged this long closes the link, ms. */
export const SCOPES_GIVE_UP_MS = 60_000;

/** Timers, injected so tests run on a fake clock. */
export interface Scheduler {
  /** Run `fn` once after `ms`; the returned function cancels it (idempotent). */
  after(ms: number, fn: () => void): () => void;
}

/** Real timers, unref'd: an unacknowledged `Scopes` never keeps the process alive. */
export const realScheduler: Scheduler = {
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** What the announcer needs of its session. */
export interface AnnouncerHost {
  /** Send `Scopes` or `ScopesAck` on the link (sealed by the session on a sealed link). */
  send(msg: ScopesMessage | ScopesAckMessage): void;
  /** Close the link: the peer acknowledged nothing for {@link SCOPES_GIVE_UP_MS}. */
  closeLink(reason: string): void;
}

/** Where the announcer stands. */
export type AnnouncerState =
  /** Nothing unacknowledged. */
  | 'idle'
  /** A `Scopes` awaits its ack; it is resent on a timer. */
  | 'waiting'
  /** The link closed (or gave up): nothing more is sent. */
  | 'stopped';

/** The `Scopes` sender of one link. */
export class ScopeAnnouncer {
  state: AnnouncerState = 'idle';
  /** Retransmissions sent since the link came up. */
  retransmits = 0;
  private cancelRetry: (() => void) | null = null;
  private cancelGiveUp: (() => void) | null = null;

  constructor(
    private readonly table: ScopeTable,
    private readonly host: AnnouncerHost,
    private readonly scheduler: Scheduler = realScheduler,
  ) {}

  /**
   * Send the next `Scopes` if none is unacknowledged and the table has something queued; call it
   * after changing the table (several opens at link-up then go in one message). Nothing is sent
   * when nothing is queued (rule 4).
   */
  flush(): void {
    if (this.state !== 'idle') return;
    const msg = this.table.nextScopes();
    if (msg === null) return;
    this.state = 'waiting';
    this.host.send(msg);
    // Unless the send closed the link (and stopped us).
    if (this.state !== 'waiting') return;
    this.cancelGiveUp = this.scheduler.after(SCOPES_GIVE_UP_MS, () => this.giveUp());
    this.armRetry(msg, SCOPES_RETRY_FIRST_MS);
  }

  /** A `Scopes` arrived: answer it (unless dropped), then send what it made the table queue. */
  onScopes(msg: ScopesMessage): void {
    if (this.state === 'stopped') return;
    const ack = this.table.onScopes(msg);
    if (ack === 'conflict') return this.host.closeLink(`the peer's Scopes seq ${msg.seq} differs from the one applied under that seq: the two scope tables disagree`);
    if (ack !== 'drop') this.host.send(ack);
    this.flush();
  }

  /** A `ScopesAck` arrived: when it acknowledges the outstanding `Scopes`, the next may go. */
  onScopesAck(msg: ScopesAckMessage): void {
    if (this.state === 'stopped' || !this.table.onScopesAck(msg)) return;
    this.clearTimers();
    this.state = 'idle';
    this.flush();
  }

  /** The link closed: stop every timer; idempotent. */
  stop(): void {
    this.state = 'stopped';
    this.clearTimers();
  }

  private armRetry(msg: ScopesMessage, ms: number): void {
    this.cancelRetry = this.scheduler.after(ms, () => {
      this.cancelRetry = null;
      if (this.state !== 'waiting' || this.table.outstanding !== msg) return;
      this.retransmits++;
      this.host.send(msg);
      if (this.state === 'waiting') this.armRetry(msg, Math.min(ms * 2, SCOPES_RETRY_MAX_MS));
    });
  }

  private giveUp(): void {
    this.cancelGiveUp = null;
    if (this.state !== 'waiting') return;
    this.stop();
    this.host.closeLink(`Scopes ${this.table.outstanding?.seq ?? '?'} unacknowledged for ${SCOPES_GIVE_UP_MS / 1000} s`);
  }

  private clearTimers(): void {
    this.cancelRetry?.();
    this.cancelGiveUp?.();
    this.cancelRetry = this.cancelGiveUp = null;
  }
}
