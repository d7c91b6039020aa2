/**
 * What the scoped part of a v2 session (`SessionV2Scoped`) needs of the session itself once
 * its link is up (docs/design/v2-scopes.md §3.3): the scope table and announcer, stats, budgets
 * and limits, sending, and the link's dead-link watchdog.
 */
import type { ReasonName } from '../../protocol/errors.js';
import type { MessageV2 } from '../../protocol/messages-v2.js';
import type { LinkWatchdog } from './link-watchdog.js';
import type { ScopeAnnouncer } from './scope-announcer.js';
import type { ScopeTable } from './scope-table.js';
import type { SessionV2Like, SessionV2Stats } from './session-v2-host.js';

/** What the scoped part needs of its session (once up). */
export interface ScopedSession extends SessionV2Like {
  readonly table: ScopeTable;
  readonly announcer: ScopeAnnouncer;
  readonly stats: SessionV2Stats;
  /** Poll budget this side asks for: the configured one within what it can receive. */
  readonly pollBudget: number;
  /** Largest message this side may send the peer. */
  readonly sendLimit: number;
  send(msg: MessageV2): void;
  sendError(reason: ReasonName, text: string, retryAfterMs: number | null, scope?: number): void;
  /** Count a bad frame of the link; true when this one is answered (§14.2). */
  badFrame(): boolean;
  /** The peer's `Hello.caps`, null before its `Hello` was accepted. */
  readonly peerCaps: number | null;
  /** The link's dead-link watchdog (consecutive poll timeouts per scope loop); the same object for the link's life. */
  readonly watchdog: LinkWatchdog;
}
