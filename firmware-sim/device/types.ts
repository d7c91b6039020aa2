/**
 * Settings, counters and events of the simulated device (`SimDevice`, device.ts).
 */
import type { Command, ErrorMessage, Identity, SealPolicy } from '../../protocol/index.js';

/** Default frame limit a device announces, bytes. */
export const DEFAULT_DEVICE_MAX_FRAME = 2048;
/** Default telemetry period, ms. */
export const DEFAULT_TELEMETRY_MS = 1000;
/** First wait for the peer's handshake before sending `Hello` again, ms (doubles up to 30 s). */
export const DEFAULT_HANDSHAKE_RETRY_MS = 2000;

/** Settings of a `SimDevice`; all optional. */
export interface DeviceOptions {
  /** Key pair. Default: `secretKey` if given, else a fresh one. */
  identity?: Identity;
  /** Raw 32-byte ed25519 seed, used when `identity` is not given. */
  secretKey?: Uint8Array;
  /** Public keys admitted as peers and as command authors. Default none. */
  trustedKeys?: Uint8Array[];
  /** Admit any peer that proves its key, and learn author keys from `Keys`. Default false. */
  trustAny?: boolean;
  /** Commands held in the ring. Default 64. */
  ringSize?: number;
  /** Largest frame body accepted and announced in `Hello`, bytes. Default 2048. */
  maxFrame?: number;
  /** Telemetry period of `SimDevice.start()`, ms; also the `next_poll_ms` hint. Default 1000. */
  telemetryMs?: number;
  /** Poll the peer every `pollMs` ms once the session is up; 0 = off. Default 0. */
  pollMs?: number;
  /** Subscribe to a peer that announces `Capability.Push`. Default true. */
  subscribe?: boolean;
  /** The telemetry reading for a counter value (an integer: the protocol's CBOR has no floats). */
  readSensor?: (counter: number) => number;
  /** Called for every order addressed to this device (same as the `order` event). */
  onOrder?: (payload: Uint8Array, command: Command) => void;
  /** First handshake retry delay, ms. Default 2000. */
  handshakeRetryMs?: number;
  /**
   * Sealing policy of the link (PROTOCOL.md §7.2): `require` refuses a peer that does not seal,
   * `prefer` seals when the peer offers it (and refuses legacy peers), `off` never seals (and
   * takes legacy peers). Default `prefer`, the serial default.
   */
  seal?: SealPolicy;
  /** Random source for nonces and ephemeral keys (tests). Default `crypto.randomFillSync`. */
  random?: (buf: Uint8Array) => void;
}

/** Counters; all start at 0 and only grow. */
export interface DeviceStats {
  /** Frame bodies received (what the link delivered: CRC-valid, ARQ-reassembled). */
  framesIn: number;
  /** Frame bodies sent. */
  framesOut: number;
  /** Bytes of the bodies received (framing not counted: it is the link's, as in the agent's counters). */
  bytesIn: number;
  /** Bytes of the bodies sent (framing not counted). */
  bytesOut: number;
  /** Frames dropped: bad COBS, CRC or size (reported by the link), or a body that is not a valid message. */
  badFrames: number;
  /** Own commands committed. */
  commits: number;
  /** Own commands refused because the ring was full of own commands no peer holds yet. */
  commitsRefused: number;
  /** Commands received, verified and stored (duplicates excluded). */
  commandsReceived: number;
  /** Received commands addressed to this device. */
  orders: number;
  /** Received commands refused: malformed, unknown author or bad signature. */
  rejectedCommands: number;
  /** Received commands already held. */
  duplicates: number;
  /** `Error` messages received. */
  errorsIn: number;
  /** `PollRequest`s answered. */
  pollsAnswered: number;
  /** Sealed frames dropped unopened: bad tag (forged, altered, another key), or no session key yet. */
  sealFailures: number;
  /** Sealed frames dropped as replays (seen before, or below the replay window). */
  replays: number;
  /** Unsealed messages (other than `Hello`/`Auth`) dropped on a sealed session. */
  unsealedDropped: number;
  /** Up sessions started over: a new peer `Hello`, or a rekey. */
  rehandshakes: number;
}

/** Fresh counters, all 0. */
export function zeroDeviceStats(): DeviceStats {
  return {
    framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, badFrames: 0, commits: 0, commitsRefused: 0, commandsReceived: 0,
    orders: 0, rejectedCommands: 0, duplicates: 0, errorsIn: 0, pollsAnswered: 0,
    sealFailures: 0, replays: 0, unsealedDropped: 0, rehandshakes: 0,
  };
}

/** Why a received command was not stored. */
export type RejectReason = 'malformed' | 'unknown-author' | 'bad-signature';

/** Events of a `SimDevice`. */
export interface DeviceEvents {
  /** The session is up: the peer with this public key proved it. */
  ready: [peerKey: Uint8Array];
  /** The session ended (link closed or peer restarted). */
  down: [];
  /** An own command was committed. */
  commit: [command: Command];
  /** A received command was verified and stored. */
  command: [command: Command];
  /** A stored command is an order for this device. */
  order: [payload: Uint8Array, command: Command];
  /** A received command was refused. */
  rejected: [reason: RejectReason, detail: string];
  /** The peer sent an `Error` (in any state). */
  'peer-error': [error: ErrorMessage];
  /** A frame was dropped. */
  'bad-frame': [error: Error];
}
