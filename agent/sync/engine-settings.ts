/**
 * The engine's options, their defaults (defined once: config and help texts read
 * {@link ENGINE_DEFAULTS}) and the resolved settings every part of the engine reads.
 */
import type { BatchVerify } from './ingest-v2-types.js';
import { DEFAULT_SUBSCRIPTION_CAPACITY, MAX_FRAME_BYTES } from '../../protocol/constants.js';
import { MAX_TRAIN_BYTES, SEGMENT_BYTES } from '../../protocol/constants-v2.js';
import type { Identity } from '../../protocol/keys.js';
import { SEAL_REKEY_AT } from '../../protocol/seal.js';
import type { Logger } from '../node/log.js';
import type { CommandStore } from '../store/command-store.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './pacing.js';
import type { TrustMode } from './trust.js';

/** What the engine does when an option is absent; config and help texts read these (one place). */
export const ENGINE_DEFAULTS = {
  /** Subscription table capacity, a power of two. */
  subscriptionCapacity: DEFAULT_SUBSCRIPTION_CAPACITY,
  /** Longest subscription granted, seconds. */
  maxRemainOpenS: 900,
  /** What this agent asks of peers that push (renewed at 80 %). */
  subscribe: { remainOpenS: 600, maxBytes: 1 << 20 },
  /** `max_bytes` of our polls. */
  pollMaxBytes: 65536,
  /** Seconds between anti-entropy polls while subscribed. */
  subscribedPollS: 300,
  /** `train_bytes` of our polls on fast links (PROTOCOL.md §10.6). */
  pollTrainBytes: MAX_TRAIN_BYTES,
  /** `segment` of our `elide` polls (PROTOCOL.md §10.7, C5): as large as our own answers. */
  elideSegment: 65536,
} as const;

/** Engine settings; every field but identity and store has a default. */
export interface EngineOptions {
  identity: Identity;
  store: CommandStore;
  /** Trust mode and trusted public keys. Default `{ mode: 'list', keys: [own key] }`. */
  trust?: { mode: TrustMode; keys: Uint8Array[] };
  /** Subscription table capacity, a power of two. Default 128. */
  subscriptionCapacity?: number;
  /** Longest subscription granted, seconds. Default 900. */
  maxRemainOpenS?: number;
  /** What this agent asks of peers that push: false to only poll. Default 600 s, 1 MiB (renewed at 80 %). */
  subscribe?: { remainOpenS: number; maxBytes: number } | false;
  /** `max_bytes` of our polls. Default 64 KiB (clamped to the peer's frame size). */
  pollMaxBytes?: number;
  /**
   * `train_bytes` of our polls (PROTOCOL.md §10.6) on links where a train pays (TCP, TLS,
   * in-process; see `linkTakesTrains`), to peers that announced `PollTrain`; serial and MQTT
   * links always poll one answer at a time. 0: never ask for a train. Default 1 MiB.
   */
  pollTrainBytes?: number;
  /** Largest frame body we accept (announced in Hello). Default 64 KiB. */
  maxFrame?: number;
  /** Poll answer timeout: this many ms plus `pollTimeoutMsPerByte` × max_bytes. Default 3000. */
  pollTimeoutMs?: number;
  /** Default 0.1 ms a byte (a line of ~10 KB/s, like 115200 baud). */
  pollTimeoutMsPerByte?: number;
  /**
   * Close a link whose polls time out this many times in a row (0 = never): a link that carries
   * nothing back is dead in a way its transport did not notice (a wedged UART, a half-open
   * socket), and closing it makes the transport redial with fresh state. Counted per (link,
   * scope) poll loop; any message heard from the peer on the up link resets every count of the
   * link; the counts survive the peer's restart of its scope tables and start at 0 on a new link
   * (link-watchdog.ts, PROTOCOL.md §10.2). The close is logged (warn), counted in
   * `SessionV2Stats.deadLinkCloses`, and the link's transport redials. Default 8: with the default
   * timeout (3 s + 0.1 ms × a 64 KiB budget, about 9.6 s) and the exponential backoff between
   * timed-out polls (PROTOCOL.md §13.3), about two minutes of silence, whatever the number of scopes.
   */
  deadAfterTimeouts?: number;
  /** Seconds between anti-entropy polls while subscribed. Default 300 (an idle link costs a few KB an hour). */
  subscribedPollS?: number;
  /** Next-poll hint bounds, ms. Default 1000..30000. */
  pollHint?: { minMs: number; maxMs: number };
  /** Token bucket for idle polls per peer. Default 10 tokens, 2 per second. */
  pollBucket?: { capacity: number; perSecond: number };
  /** Client wait policy. */
  backoff?: BackoffPolicy;
  logger?: Logger;
  /**
   * Sealed frames a side sends under one key before it starts a re-handshake for fresh keys
   * (PROTOCOL.md §7.4). Default `SEAL_REKEY_AT` (2^31); tests lower it to exercise rekeying.
   */
  rekeyAt?: number;
  /** Clock, ms. Default Date.now. */
  now?: () => number;
  /** Random source. Default Math.random. */
  random?: () => number;
  /**
   * How compact batches received are checked (protocol v2, PROTOCOL.md §10.7). 'covers': each
   * author's covers are verified and a covered command that came without its signature is
   * authenticated by its cover (what the batch saves in time); one that came with its signature is
   * checked on its own when `elide` is on, and stored with it unchecked otherwise. 'every': every
   * signature, so each one this host stores and hands on was verified here, as PROTOCOL.md §10.7
   * asks of a host that serves its scopes to others. Default 'covers' with `elide` (a device:
   * nothing unchecked is kept), else 'every' (a gateway).
   */
  batchVerify?: BatchVerify;
  /**
   * Take covered commands without their signatures (protocol v2, PROTOCOL.md §10.7): polls to a
   * peer that announced `CompactBatch` set `elide`, and the commands a cover authenticated are
   * stored without their signature: ~64 B less per command on the wire and on disk; such a host
   * can relay those commands only inside compact batches with their cover (§10.7), to a peer that
   * announced `CompactBatch` and asked for `elide` itself. For devices. Default false (every
   * signature kept: a gateway can relay to anyone).
   */
  elide?: boolean;
  /**
   * With `elide`: the `segment` of our polls (PROTOCOL.md §8.4 field 9, §10.7 C5), the most bytes
   * of batch entries one signature may cover. Larger means fewer signatures on the wire (one in
   * about `elideSegment` / command size) and fewer to verify, but this host can then pass the
   * commands it holds without their signatures only to peers that ask for `elide` with a segment
   * and a budget at least as large. Clamped to 1,024..2^32 − 1. Default 64 KiB (the default poll
   * budget: about one signature per answer and author).
   */
  elideSegment?: number;
}

/** Resolved settings (all defaults applied). */
export type EngineSettings = Required<Omit<EngineOptions, 'identity' | 'store' | 'trust' | 'logger'>>;

/** Every option's value, defaults applied for those `opts` leaves out. */
export function resolveSettings(opts: Omit<EngineOptions, 'identity' | 'store'>): EngineSettings {
  return {
    subscriptionCapacity: opts.subscriptionCapacity ?? ENGINE_DEFAULTS.subscriptionCapacity,
    maxRemainOpenS: opts.maxRemainOpenS ?? ENGINE_DEFAULTS.maxRemainOpenS,
    subscribe: opts.subscribe ?? { ...ENGINE_DEFAULTS.subscribe },
    pollMaxBytes: opts.pollMaxBytes ?? ENGINE_DEFAULTS.pollMaxBytes,
    pollTrainBytes: Math.min(opts.pollTrainBytes ?? ENGINE_DEFAULTS.pollTrainBytes, MAX_TRAIN_BYTES),
    maxFrame: opts.maxFrame ?? MAX_FRAME_BYTES,
    subscribedPollS: opts.subscribedPollS ?? ENGINE_DEFAULTS.subscribedPollS,
    pollTimeoutMs: opts.pollTimeoutMs ?? 3000,
    deadAfterTimeouts: opts.deadAfterTimeouts ?? 8,
    pollTimeoutMsPerByte: opts.pollTimeoutMsPerByte ?? 0.1,
    pollHint: opts.pollHint ?? { minMs: 1000, maxMs: 30000 },
    pollBucket: opts.pollBucket ?? { capacity: 10, perSecond: 2 },
    backoff: opts.backoff ?? DEFAULT_BACKOFF,
    rekeyAt: opts.rekeyAt ?? SEAL_REKEY_AT,
    now: opts.now ?? Date.now,
    random: opts.random ?? Math.random,
    batchVerify: opts.batchVerify ?? (opts.elide === true ? 'covers' : 'every'),
    elide: opts.elide ?? false,
    elideSegment: Math.max(SEGMENT_BYTES, Math.min(opts.elideSegment ?? ENGINE_DEFAULTS.elideSegment, 0xffff_ffff)),
  };
}
