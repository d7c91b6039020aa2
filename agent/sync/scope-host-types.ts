/**
 * The public shapes around {@link ScopeHost} (docs/design/v2-scopes.md §1.8, §4): its options,
 * the events it raises, the peer reference the access checks take and what an accepted answer
 * did. Kept apart from the host so that sessions and the engine can name them without the class.
 */
import type { RetentionConfig } from '../store/retention-policy.js';
import type { GapRecord, ScopeStore } from '../store/scope-store-contract.js';
import type { Delivery } from './ingest.js';
import type { IngestV2Result, Signer } from './ingest-v2.js';
import type { OrphanBufferV2 } from './orphans-v2.js';
import type { Scheduler } from './scope-announcer.js';
import type { ScopeHost } from './scope-host.js';
import type { ScopeMembership } from './scope-membership.js';
/** How often retention runs without appends (§4.2: every 60 s), ms. */
export const RETENTION_TICK_MS = 60_000;

/** A peer as the access checks see it: its id (cursor and round keys), full key and link trust. */
export interface PeerRef {
  id: string;
  publicKey: Uint8Array;
  /** Whether this host's link trust admits the peer (what `open_read` relies on). */
  trusted: boolean;
}

/** What the host tells its owner. Every member is optional. */
export interface ScopeHostEvents {
  appended?(host: ScopeHost, handles: readonly number[], from: string, how: Delivery): void;
  /** Membership commands were appended: re-evaluate grants of every peer S is active with (§1.8). */
  membershipChanged?(host: ScopeHost, handles: readonly number[]): void;
  /** A gap marker was written before the next command (§4.6). */
  gap?(host: ScopeHost, records: readonly GapRecord[], from: string): void;
  /** A periodic retention run failed (a store error); the next tick tries again. */
  error?(host: ScopeHost, err: unknown): void;
}

/** Options of {@link ScopeHost}. */
export interface ScopeHostOptions {
  /** The scope's store, opened with `membership.openHooks()` (or replayed by `ScopeMembership.load`). */
  store: ScopeStore;
  membership: ScopeMembership;
  /** The host's own identity: commits are signed with it, its commands are protected (§4.2). */
  identity: Signer;
  /** The name announced for a scope being joined; otherwise the genesis name is used. */
  name?: string;
  /** Set while joining: the peer the scope is joined from, the only one granted it meanwhile (§1.8). */
  joinFrom?: Uint8Array;
  /** `scopes.retention` (§4.1). Default: none (the genesis, then forever). */
  retention?: RetentionConfig;
  /** Timers for the periodic run. Default: none (no tick). */
  scheduler?: Scheduler;
  /** Tick period, ms. Default {@link RETENTION_TICK_MS}. */
  tickMs?: number;
  /** Clock, seconds (same as the store's). Default `Date.now() / 1000`. */
  nowS?: () => number;
  /** The host's orphan buffer shared by its scopes. Default: a private one. */
  orphans?: OrphanBufferV2;
  events?: ScopeHostEvents;
  /** HORIZON_TARGET override (tests). */
  horizonTarget?: number;
}

/** What {@link ScopeHost.accept} did. */
export interface AcceptResult extends IngestV2Result {
  /** Items that were neither a command nor a decodable record. */
  malformed: number;
  /** The gap marker written for this answer, or null. */
  gap: GapRecord[] | null;
  /** Set when the peer is not granted the scope: nothing was taken. */
  refused?: 'NotAMember';
}
