/** The states, steps and inputs of a link handshake (`handshake.ts`). */
import type { Identity } from '../../protocol/keys.js';
import type { SealPolicy } from '../../protocol/seal.js';
import type { HandshakeDrop, Refusal } from './handshake-refusal.js';

/** Where a handshake stands. */
export type HandshakeState =
  /** Our `Hello` is out; no acceptable peer `Hello` yet. */
  | 'hello-sent'
  /** The peer's `Hello` was accepted and answered with our `Auth`; waiting for the peer's `Auth`. */
  | 'auth-sent'
  /** The peer's `Auth` verified. */
  | 'up'
  /** First handshake only: the peer was refused (the `Error` is in the step); the link closes. */
  | 'refused';

/** What one input produced. */
export interface HandshakeStep {
  /** Frame bodies to send in order, never sealed (`Hello`, `Auth`, or the refusal's `Error`). */
  send: Uint8Array[];
  /** This input brought the handshake up. */
  up: boolean;
  /** First handshake: the peer is refused (its `Error` is the last of `send`). */
  refuse: Refusal | null;
  /** Re-handshake (and repeats): the input was dropped, and why. */
  dropped: HandshakeDrop | null;
}

/** The peer as its accepted `Hello` describes it. */
export interface PeerHello {
  readonly publicKey: Uint8Array;
  readonly id: string;
  /** `max_frame`, raised to `MIN_FRAME_BYTES`. */
  readonly maxFrame: number;
  readonly caps: number;
  readonly nonce: Uint8Array;
  /** The exact frame body received. */
  readonly bytes: Uint8Array;
}

/** What a handshake needs from its side. */
export interface HandshakeSetup {
  identity: Identity;
  /** Largest frame body we accept (announced). */
  maxFrame: number;
  /** Capability bits to announce besides `Seal` (which the policy decides). */
  caps: number;
  policy: SealPolicy;
  /** Whether the trust rules admit a peer key. */
  admits(publicKey: Uint8Array): boolean;
  /** Cryptographic randomness: `n` fresh bytes. */
  randomBytes(n: number): Uint8Array;
  /**
   * Set for a re-handshake beside an up session: its peer key (a `Hello` under another key is
   * dropped) and whether it is sealed (then the new session must be too: no downgrade).
   */
  current?: { peerKey: Uint8Array; sealed: boolean };
  /**
   * The protocol version this side announces in its `Hello` and the only one it accepts. Default
   * 2 (`PROTOCOL_VERSION_2`); tests pass another to play a peer of another version.
   */
  version?: number;
}

