/**
 * What a v2 link session ({@link SessionV2}) needs of its engine, and the session's counters: an
 * interface instead of a back-pointer, so a unit test can give a session a fake. Scopes are seen
 * by id; the engine answers for its registry (held, granted, joinable) and for the scope hosts.
 */
import type { Identity } from '../../protocol/keys.js';
import type { Logger } from '../node/log.js';
import type { PeerRejected } from './engine-events.js';
import type { EngineSettings } from './engine-settings.js';
import type { TokenBucket } from './pacing.js';
import type { PollQueueV2 } from './poll-queue-v2.js';
import type { PusherV2 } from './pusher-v2.js';
import type { AcceptResult, ScopeHost } from './scope-host.js';
import type { JoinVerdict, ScopeCounter } from './scope-table.js';

/** What the engine reads of an accepted answer or push: a push's ingest result is one as it is, without a copy. */
export type AcceptedReport = Pick<AcceptResult, 'appended' | 'joinRefused' | 'refused' | 'total' | 'more' | 'bytes'>;

/** The engine as its v2 sessions see it. */
export interface SessionV2Host {
  readonly identity: Identity;
  /** v1's resolved settings, reused: frame limit, poll budget and timeout, hint bounds, backoff, rekey, clock. */
  readonly settings: EngineSettings;
  readonly log: Logger;
  /** Whether link trust admits a peer key (read at each `Hello`, and for `open_read` grants). */
  admits(publicKey: Uint8Array): boolean;
  /** A first handshake refused the peer for trust. */
  onRejected(info: PeerRejected): void;
  /** Whether a version refusal of this peer key (64 hex) is due a warn line (once per key per 10 minutes, §3.1). */
  versionLogDue(publicKeyHex: string): boolean;

  /** The peer ids (8 bytes) other than `except`'s that push S to this host: a `Subscribe`'s `via` (§11.7, at most 16). */
  upstreamsOf(scopeId: Uint8Array, except: SessionV2Like): Uint8Array[];
  /** `from`'s subscription of S was granted or ended: every other session renews S's subscription with the new `via`. */
  upstreamsChanged(scopeId: Uint8Array, from: SessionV2Like): void;
  /** Whether this host holds S (a join still being set up included). */
  holds(scopeId: Uint8Array): boolean;
  /** §1.8: whether S is granted to the peer with this key now. */
  grants(scopeId: Uint8Array, peerKey: Uint8Array): boolean;
  /** §1.9 join policy for S offered as `name` by the peer `from`; after `joined` the host holds S. */
  join(scopeId: Uint8Array, name: string, from: Uint8Array): JoinVerdict;
  /** The host of S once it is set up (undefined while a join is being set up, or not held). */
  hostOf(scopeId: Uint8Array): ScopeHost | undefined;
  /** Resolves with S's host once set up, undefined if it never will be (a join that failed). */
  whenHeld(scopeId: Uint8Array): Promise<ScopeHost | undefined>;
  /** Every scope held and set up: link-up opens those granted to the peer. */
  held(): ScopeHost[];
  /** `next_poll_ms` this host gives now for S (§3.9: from S's own commit rate). */
  hintMs(host: ScopeHost): number;
  /** The engine's (peer, scope) subscription table and push passes (§11). */
  readonly pusher: PusherV2;
  /** The engine's queue of polls to answer, round-robin over (link, scope) (§13.2). */
  readonly polls: PollQueueV2;
  /** The token bucket of a peer (by id), shared by all its scopes and links (§13.2). */
  bucketOf(peerId: string): TokenBucket;

  /**
   * The peer proved its key: the session is up (a gateway may now create the peer's device scope).
   * False when the peer is already up on another link that wins the link-key draw (§7.1 one link
   * per peer): the engine is closing this session, which must not open scopes.
   */
  onUp(s: SessionV2Like): boolean;
  /** The session's link closed. */
  onDown(s: SessionV2Like): void;
  /** An answer or push of the peer for S was taken in (join refusals are the engine's to act on). */
  accepted(s: SessionV2Like, host: ScopeHost, result: AcceptedReport): void;
  /** Observation: a frame was handed to the link (`message` the plaintext, `wire` what went out). */
  frameOut(s: SessionV2Like, message: Uint8Array, wire: Uint8Array): void;
}

/** What the engine reads of a v2 session. */
export interface SessionV2Like {
  /** The peer's id ('' before its `Hello` was accepted). */
  readonly peerId: string;
  /** The peer's key, null before its `Hello` was accepted. */
  readonly peerKey: Uint8Array | null;
  readonly authenticated: boolean;
  /** §7.1 link key (both nonces, the smaller first, hex): the same at both ends; '' before the peer's `Hello`. */
  readonly linkKey: string;
  /** The link's description, for logs. */
  readonly linkName: string;
  /**
   * Bring S's entry in line with its grant to the peer (sender rule 1): open it when granted and
   * never opened (or closed by us since), close it when no longer granted. Sends at once.
   */
  refresh(scopeId: Uint8Array): void;
  /** Whether this side holds a granted push subscription of S with the peer (the peer pushes S to us). */
  pushesUs(scopeId: Uint8Array): boolean;
  /** Our set of peers pushing S to us changed: renew S's subscription so its `via` is true (§11.7). */
  viaChanged(scopeId: Uint8Array): void;
  /** Close the session and its link. */
  close(): Promise<void>;
}

/** Counters of one v2 session; all start at 0 and only grow. */
export interface SessionV2Stats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Bodies that failed to decode, and scoped requests naming a number that does not route (§3.10). */
  badFrames: number;
  /** Scoped messages naming a number that does not route (requests included). */
  unknownScope: number;
  errorsIn: number;
  sealFailures: number;
  replays: number;
  unsealedDropped: number;
  droppedBeforeAuth: number;
  intakeDropped: number;
  rehandshakes: number;
  handshakeDropped: number;
  /** Peer `Hello`s of another version refused (or received refusals of ours). */
  versionRefused: number;
  /** Polls and `Subscribe`s of the peer refused `NotAMember` (the scope does not grant it, §3.10). */
  notAMember: number;
  pollsSent: number;
  pollsAnswered: number;
  /** Polls replaced by a newer one for the same scope before they were answered. */
  pollsSuperseded: number;
  /** Polls refused `Busy` (the peer's token bucket was empty). */
  pollsBusy: number;
  /** `Subscribe`s received that routed. */
  subscribesIn: number;
  /** Of those, refused with `MaximumSubscriptionsExceeded`. */
  subscribesRefused: number;
  /** `Subscribe`s this side sent (first requests, renewals, retries). */
  subscribesSent: number;
  /** Pushes received that routed (enveloped or bare). */
  pushesIn: number;
  /** Of those, pushes for a scope this side held no granted subscription for (§11.9: still taken in). */
  pushesUnsolicited: number;
  /** Push items that were not commands (dropped, counted `Malformed`; the others still processed). */
  pushMalformed: number;
  /** This link's pushes dropped because the scope's backlog of pushed commands not yet placed was full (push-intake.ts; the scope is polled instead). */
  pushesDropped: number;
  /** Commands this side pushed to the peer. */
  pushedCommands: number;
  /** Links this side closed because `deadAfterTimeouts` polls in a row went unanswered (link-watchdog.ts; 0 or 1 per link). */
  deadLinkCloses: number;
  /** Counters of the scope table (stale `Scopes`, refusals, …). */
  table: Record<ScopeCounter, number>;
}

/** Fresh counters. */
export function newSessionV2Stats(): SessionV2Stats {
  return {
    framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, badFrames: 0, unknownScope: 0, errorsIn: 0, sealFailures: 0, replays: 0,
    unsealedDropped: 0, droppedBeforeAuth: 0, intakeDropped: 0, rehandshakes: 0, handshakeDropped: 0, versionRefused: 0, notAMember: 0,
    pollsSent: 0, pollsAnswered: 0, pollsSuperseded: 0, pollsBusy: 0, subscribesIn: 0, subscribesRefused: 0, subscribesSent: 0, pushesIn: 0, pushesUnsolicited: 0, pushMalformed: 0, pushesDropped: 0, pushedCommands: 0, deadLinkCloses: 0,
    table: { scopesDropped: 0, scopesRepeated: 0, scopesConflicting: 0, scopesAckDropped: 0, scopeRefused: 0, closeUnknown: 0, numbersExhausted: 0 },
  };
}
