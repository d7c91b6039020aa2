/**
 * Settings, counters, events, table sizes, the link seam and the outcome of offering a command
 * to a scope, of the v2 simulated device (device-v2.ts).
 */
import type { ArqScheduler } from '../../protocol/arq/driver.js';
import type { CommandV2 } from '../../protocol/command-v2.js';
import type { Identity } from '../../protocol/keys.js';
import type { ErrorMessage } from '../../protocol/messages-v2.js';
import type { SealPolicy } from '../../protocol/seal.js';

/** Scopes a device holds, and entries its table keeps each way on its one uplink (§7 item 2). */
export const MAX_DEVICE_SCOPES = 4;
/** Membership commands (genesis included), members and frontiers one scope may need (§7 item 3). */
export const MEMBERSHIP_SLOTS = 16;
/** Default ring size of the device scope, commands. */
export const DEFAULT_DEVICE_RING = 64;
/** Default ring size of every other scope, commands. */
export const DEFAULT_OTHER_RING = 16;

/** What carries the device's frame bodies; `close` ends the link (a version refusal, a table give-up). */
export interface DeviceLinkV2 {
  /** Send one frame body. Never throws. */
  send(body: Uint8Array): void;
  /** End the link (the carrier redials or not). Optional: a carrier without it keeps the line. */
  close?(): void;
}

/** Settings of a v2 device; all optional. */
export interface DeviceV2Options {
  /** Key pair. Default: from `secretKey`, else fresh. */
  identity?: Identity;
  /** Raw 32-byte ed25519 seed used when `identity` is not given. */
  secretKey?: Uint8Array;
  /** Public keys admitted as peers (link trust, P§4). Default none. */
  trustedKeys?: Uint8Array[];
  /** Ring sizes, commands: `device` for `device/<own peer id>` (default 64), `other` for the rest (16). */
  ringSizes?: { device?: number; other?: number };
  /** Names of scopes besides the device scope the device joins when a trusted peer offers them. Default none. */
  joinScopes?: string[];
  /** Largest frame body accepted and announced, bytes. Default 2048. */
  maxFrame?: number;
  /** Telemetry period of `start()`, ms; also `next_poll_ms`. Default 1000. */
  telemetryMs?: number;
  /** Poll every active scope on this period, ms; 0 = only rounds, catch-up and anti-entropy. Default 0. */
  pollMs?: number;
  /**
   * Take subscriptions (protocol v2 §11): announce `Push` in the `Hello` and push own commits to
   * the subscriber instead of being polled. Default true.
   */
  acceptSubscriptions?: boolean;
  /** Slots of the subscription table, allocated at construction. Default 4 (one per scope). */
  subscriptionSlots?: number;
  /** Sealing policy. Default `prefer`. */
  seal?: SealPolicy;
  /** Random source (nonces, ephemeral keys). Default `crypto.randomFillSync`. */
  random?: (buf: Uint8Array) => void;
  /** Time and timers. Default Node's, unref'd. */
  scheduler?: ArqScheduler;
  /** The telemetry reading for a counter value (an integer). */
  readSensor?: (counter: number) => number;
}

/** Counters; all start at 0 and only grow. */
export interface DeviceV2Stats {
  framesIn: number;
  framesOut: number;
  /** Bodies that were not a valid message, or broke the device. */
  badFrames: number;
  sealFailures: number;
  replays: number;
  unsealedDropped: number;
  /** `Hello`s of another version refused. */
  versionRefused: number;
  /** `Scopes` sent (retransmissions included). */
  scopesSent: number;
  /** `Scopes`/`ScopesAck` dropped: out of sequence, or for no outstanding `seq`. */
  scopesDropped: number;
  /** Links closed because a `Scopes` stayed unacknowledged for 60 s. */
  scopesGaveUp: number;
  /** Scoped messages naming a number that is not known or not active. */
  unknownScope: number;
  /** Scopes dropped because they needed more than the device's tables (§7 item 3). */
  scopeOverflow: number;
  /** Joined scopes whose genesis was wrong (§1.9). */
  scopeJoinsRejected: number;
  /** Own commands committed / refused (ring full of own commands no peer holds, or no device scope yet). */
  commits: number;
  commitsRefused: number;
  /** Received commands stored. */
  commandsReceived: number;
  /** Received commands already held. */
  duplicates: number;
  /** Received commands not kept: the ring is full of own commands no peer holds. */
  ringRefused: number;
  /** Received commands with a parent the device cannot resolve (dropped; it polls). */
  orphans: number;
  /** Received commands refused: Malformed, UnknownAuthor, NotPermitted, BadSignature. */
  rejectedCommands: number;
  /** Orders (device scope commands addressed to this device). */
  orders: number;
  /** `PollRequest`s answered. */
  pollsAnswered: number;
  /** `PollRequest`s sent. */
  pollsSent: number;
  /** Answers that showed a gap (§4.6). */
  gaps: number;
  /** Horizon records adopted. */
  adopted: number;
  /** Horizon entries dropped because the table was full (the smallest depth goes). */
  horizonDropped: number;
  /** `Error`s received. */
  errorsIn: number;
}

/** Fresh counters. */
export function zeroStatsV2(): DeviceV2Stats {
  return {
    framesIn: 0, framesOut: 0, badFrames: 0, sealFailures: 0, replays: 0, unsealedDropped: 0, versionRefused: 0,
    scopesSent: 0, scopesDropped: 0, scopesGaveUp: 0, unknownScope: 0, scopeOverflow: 0, scopeJoinsRejected: 0,
    commits: 0, commitsRefused: 0, commandsReceived: 0, ringRefused: 0, duplicates: 0, orphans: 0, rejectedCommands: 0, orders: 0,
    pollsAnswered: 0, pollsSent: 0, gaps: 0, adopted: 0, horizonDropped: 0, errorsIn: 0,
  };
}

/** Why a received command was not stored. */
export type RejectReasonV2 = 'Malformed' | 'UnknownAuthor' | 'NotPermitted' | 'BadSignature';

/** Where a scope slot stands. */
export type ScopeState = 'free' | 'joining' | 'held';

/** What became of one command offered to a scope. */
export type Accepted =
  | { kind: 'stored'; cmd: CommandV2 }
  | { kind: 'duplicate' }
  | { kind: 'orphan' }
  | { kind: 'rejected'; reason: RejectReasonV2; detail: string }
  | { kind: 'full' }
  | { kind: 'overflow' }
  | { kind: 'join-rejected'; detail: string };

/** Events of a v2 device. */
export interface DeviceV2Events {
  /** The session is up with this peer key. */
  ready: [peerKey: Uint8Array];
  /** The session ended. */
  down: [];
  /** A scope became active on the link (both entries open). */
  active: [scope: string];
  /** An own command was committed to a scope. */
  commit: [scope: string, command: CommandV2];
  /** A received command was stored. */
  command: [scope: string, command: CommandV2];
  /** A device scope command addressed to this device. */
  order: [payload: Uint8Array, command: CommandV2];
  /** A received command was refused. */
  rejected: [scope: string, reason: RejectReasonV2, detail: string];
  /** A poll answer showed a gap in a scope (§4.6). */
  gap: [scope: string];
  /** The peer sent an `Error`. */
  'peer-error': [error: ErrorMessage];
  /** A frame was dropped. */
  'bad-frame': [error: Error];
}
