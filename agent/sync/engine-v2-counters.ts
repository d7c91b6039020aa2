/**
 * The v2 engine's lifetime counters (docs/design/v2-scopes.md §6.2: status and metrics): the
 * per-session counters that status must keep after a session ends (a version refusal ends its
 * link at once, so a live-sessions-only sum would almost never show one), and the gap markers
 * written per scope (§4.6). Nothing here is per command: a session's counters are folded in once,
 * when its link closes; a gap is counted when its marker is written.
 */
import type { SessionV2Stats } from './session-v2-host.js';

/** Engine-wide totals since the engine opened (sessions that ended included). */
export interface EngineV2Counters {
  /** `Hello`s of another version refused, and refusals of ours received (§3.1). */
  versionRefused: number;
  /** Scoped messages naming a scope number that does not route (§3.10). */
  unknownScope: number;
  /** Polls and `Subscribe`s refused `NotAMember` (§3.10). */
  notAMember: number;
  /** Links closed by the dead-link watchdog (PROTOCOL.md §10.2, link-watchdog.ts). */
  deadLinkCloses: number;
  /** Pushes dropped because a scope's backlog of pushed commands was full (§11.8, push-intake.ts). */
  pushesDropped: number;
  /** Joined scopes dropped because their first command was not their genesis (§1.9). */
  scopeJoinsRejected: number;
  /** Gap markers written, over every scope (§4.6; each is one gap line for the application). */
  gaps: number;
}

/** The session counters that are kept past a session's end. */
const ENDED = ['versionRefused', 'unknownScope', 'notAMember', 'deadLinkCloses', 'pushesDropped'] as const;
type EndedCounters = Pick<SessionV2Stats, (typeof ENDED)[number]>;

/** Tally of ended sessions and of gap markers; the engine owns one. */
export class EngineV2Tally {
  private readonly ended: EndedCounters = { versionRefused: 0, unknownScope: 0, notAMember: 0, deadLinkCloses: 0, pushesDropped: 0 };
  private readonly gapsByScope = new Map<string, number>();
  private gapsTotal = 0;

  /** A session's link closed: its counters stay in the totals. Call once per session. */
  sessionEnded(stats: Readonly<EndedCounters>): void {
    for (const k of ENDED) this.ended[k] += stats[k];
  }

  /** A gap marker was written to the scope with id `scopeHex` (64 hex). */
  gap(scopeHex: string): void {
    this.gapsTotal++;
    this.gapsByScope.set(scopeHex, (this.gapsByScope.get(scopeHex) ?? 0) + 1);
  }

  /** Gap markers written to the scope `scopeHex` since the engine opened (0 when none). */
  gapsOf(scopeHex: string): number {
    return this.gapsByScope.get(scopeHex) ?? 0;
  }

  /** The totals: the ended sessions' counters plus those of `live` (the sessions still attached). */
  totals(live: Iterable<{ readonly stats: Readonly<EndedCounters> }>, scopeJoinsRejected: number): EngineV2Counters {
    const sum = { ...this.ended };
    for (const s of live) for (const k of ENDED) sum[k] += s.stats[k];
    return { ...sum, scopeJoinsRejected, gaps: this.gapsTotal };
  }
}
