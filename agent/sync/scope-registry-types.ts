/**
 * The config, options and verdicts of `ScopeRegistry` (scope-registry.ts) (docs/design/v2-scopes.md §1.9,
 * §6.1): the `scopes` policy it reads, what it is opened with, and the §1.9 refusals it returns
 * as values.
 */
import type { BatchVerify } from './ingest-v2-types.js';
import type { Identity } from '../../protocol/keys.js';
import type { Logger } from '../node/log.js';
import type { Durability } from '../store/command-store.js';
import type { RetentionConfig } from '../store/retention-policy.js';
import type { Scheduler } from './scope-announcer.js';
import type { ScopeHost } from './scope-host.js';
import type { ScopeHostEvents } from './scope-host.js';

/** Default `scopes.max` (§1.9: the agent role; a gateway passes Infinity). */
export const DEFAULT_MAX_SCOPES = 8;

/** The `scopes` config the registry reads (§6.1). */
export interface ScopesPolicy {
  /** Names a host joins when offered: `"fleet/acme"`, or pinned `"fleet/acme@<64 hex id>"`. */
  join?: readonly string[];
  /** Most scopes held. Default {@link DEFAULT_MAX_SCOPES}. */
  max?: number;
  /** `scopes.retention` (§4.1), validated by `parseRetentionConfig`. */
  retention?: RetentionConfig;
}

/** Options of {@link ScopeRegistry.open}. */
export interface ScopeRegistryOptions {
  identity: Pick<Identity, 'publicKey' | 'author' | 'sign' | 'peerId'>;
  /** The data directory; absent: memory stores. */
  dataDir?: string;
  /** Default `{ mode: 'always' }`. */
  durability?: Durability;
  scopes?: ScopesPolicy;
  scheduler?: Scheduler;
  nowS?: () => number;
  events?: ScopeHostEvents;
  logger?: Logger;
  /** HORIZON_TARGET override (tests). */
  horizonTarget?: number;
  /** How compact batches are checked (engine setting `batchVerify`, PROTOCOL.md §10.7). Default 'covers'. */
  batchVerify?: BatchVerify;
  /** Take covered commands without their signatures (engine setting `elide`, PROTOCOL.md §10.7). Default false. */
  elide?: boolean;
}

/** A refusal of §1.9, as `ScopesAck.refused` carries it. */
export interface ScopeRefusal {
  ok: false;
  reason: 'ScopeDeclined' | 'TooManyScopes';
  detail: string;
}

/** A scope held (created, joined, or already there), or why not. */
export type ScopeVerdict = { ok: true; host: ScopeHost } | ScopeRefusal;
