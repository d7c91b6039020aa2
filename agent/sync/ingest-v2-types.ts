/**
 * The result, counters and options of one scope's acceptance pipeline (`ScopeIngest`,
 * ingest-v2.ts; docs/design/v2-scopes.md §2.3, §4.4, §4.6).
 */
import type { ReasonName } from '../../protocol/errors.js';
import type { ScopeStore } from '../store/scope-store-contract.js';
import type { Delivery } from './ingest.js';
import type { OrphanBufferV2 } from './orphans-v2.js';
import type { JoinExpectation } from './scope-join.js';
import type { ScopeMembership } from './scope-membership.js';

/** What one batch (or commit) did. */
export interface IngestV2Result {
  /** Handles appended (released orphans included), in append order. */
  appended: number[];
  /** Of those, the membership commands (genesis included). */
  membership: number[];
  /** Commands already held, pruned here, or already waiting. */
  duplicates: number;
  /** Commands parked because a parent is unresolvable. */
  orphaned: number;
  /** Rejections by reason. */
  rejected: Partial<Record<ReasonName, number>>;
  /** Covered commands of a compact batch dropped for want of a verified cover (PROTOCOL.md §10.7); absent: 0. */
  uncovered?: number;
  /** Set when this scope was being joined and the batch did not start with its genesis (§1.9). */
  joinRefused?: { reason: ReasonName; detail: string };
  /** The id of the message's last command that decoded (its batch's last, else its last item), whatever became of it. */
  lastId?: Uint8Array;
}

/** Counters since start. */
export interface IngestV2Stats {
  received: number;
  appended: number;
  duplicates: number;
  orphaned: number;
  rejected: Partial<Record<ReasonName, number>>;
  /** Compact batches received, and what their covers saved (PROTOCOL.md §10.7). */
  batches: { received: number; commands: number; verified: number; coveredSkips: number; selfChecked: number; uncovered: number };
}

/** Options of `ScopeIngest` (ingest-v2.ts). */
export interface ScopeIngestOptions {
  store: ScopeStore;
  membership: ScopeMembership;
  /** The host's orphan buffer, shared by all its scopes (bounds over all scopes). Default: a private one. */
  orphans?: OrphanBufferV2;
  /** After each batch or commit with the appended handles, the peer (`'local'` for a commit) and how. */
  onAppended?: (handles: number[], from: string, how: Delivery) => void;
  /** After a batch or commit that appended membership commands: re-evaluate grants (§1.8, §3.10). */
  onMembershipChanged?: (handles: number[]) => void;
  /** How compact batches are checked (ingest-v2-batch.ts). Default 'covers'. */
  batchVerify?: BatchVerify;
  /**
   * Take covered commands of a compact batch without their signatures and store them so (held,
   * `signature` null; PROTOCOL.md §10.7). Default false: a batch with a `null` signature is
   * `Malformed`.
   */
  elide?: boolean;
  /** After a compact batch from `from` in which a cover's signature failed (C4: the requester stops asking for `elide` for a while). */
  onBadCover?: (from: string) => void;
  /** Set for a scope joined and not held yet: its first command must be its genesis (§1.9). */
  join?: JoinExpectation;
}

/**
 * How a host checks batches. 'covers': each author's covers only (a covered command's own
 * signature is stored unverified: see PROTOCOL.md §10.7 on relaying). 'every': every signature,
 * as for plain items, so that every stored signature is one this host verified.
 */
export type BatchVerify = 'covers' | 'every';
