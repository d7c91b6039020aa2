/**
 * The contract between transports and the engine: a link carries whole frame bodies (one
 * protocol message each) to one remote peer. Transports implement it; the engine uses only it,
 * so the engine never imports `net`, `serialport` or `mqtt`.
 */
import { EventEmitter } from 'node:events';
import type { SealPolicy } from '../protocol/seal.js';

/** Events a link emits. */
export interface LinkEvents {
  /** One complete frame body (one message) arrived. */
  frame: [body: Uint8Array];
  /** The send buffer drained below its high-water mark after `send` returned false. */
  drain: [];
  /** A frame was discarded by the framing layer (CRC, size, COBS); counted, the link stays up. */
  'frame-error': [err: Error];
  /** The link is gone (peer closed, cable pulled, broker lost, `close()` called). Emitted once. */
  close: [err?: Error];
  /** {@link Link.markAuthenticated} was called (once): listeners move the link out of their pre-authentication pool. */
  authenticated: [];
  /**
   * The transport has a hint that the peer's end of this authenticated link is gone (MQTT: a live
   * `online` from the remote). The engine answers with a re-handshake that keeps the link working
   * (PROTOCOL.md §7.5) instead of the transport replacing the link: the hint may be forged.
   */
  rehandshake: [];
}

/** One bidirectional frame channel to one peer. */
export interface Link extends EventEmitter<LinkEvents> {
  /** Human-readable description, e.g. `tcp://127.0.0.1:7000` or `serial:/dev/ttyUSB0`. */
  readonly description: string;
  /** Largest frame body this transport can carry (the engine also honours the peer's `Hello`). */
  readonly maxFrame: number;
  /** False once closed. */
  readonly open: boolean;
  /**
   * Queue one frame body. Returns false when the link is above its high-water mark: the frame is
   * still queued, but the caller should wait for `drain` before sending more. Silently ignored
   * after close (the sync protocol repairs whatever a link lost).
   */
  send(body: Uint8Array): boolean;
  /** Close the link; idempotent; resolves when closed. */
  close(): Promise<void>;
  /**
   * The engine calls this once the peer on this link proved its key (PROTOCOL.md §7). A listening
   * transport uses it to move the link out of its bounded pre-authentication pool (and off its
   * handshake deadline); dialers and links without such a pool ignore it. Idempotent. Optional
   * so that test doubles need not implement it.
   */
  markAuthenticated?(): void;
  /**
   * Sealing policy of this link (PROTOCOL.md §7.2), from its URL's `seal` parameter or the
   * transport's default (`require` for MQTT and plain TCP, `prefer` for TLS and serial). A link
   * that does not say is treated as `require`.
   */
  readonly sealPolicy?: SealPolicy;
  /**
   * The engine calls this once the link is up and sealed (after {@link markAuthenticated}). From
   * then on only sealed frames of the peer can end the link: an MQTT link stops taking the empty
   * payload as a close marker and no longer publishes one on close (the engine sends the sealed
   * close marker itself). Idempotent; optional like markAuthenticated.
   */
  markSealed?(): void;
  /**
   * The engine calls this when the link's handshake ended in a version refusal, sent or received
   * (protocol-v2.md §7.1): the dialer that made the link redials at least `ms` after it closes
   * (its maximum redial delay, 30 s), so a fleet in transition does not hammer. Listeners and links
   * without a redial loop ignore it. Optional like markAuthenticated.
   */
  holdRedial?(ms: number): void;
  /** The longest {@link holdRedial} asked for this link (0 or undefined: none). */
  readonly redialHoldMs?: number;
}

/**
 * A source of links: a listener yields one per accepted connection, a dialer one per successful
 * (re)connection. Reconnecting with backoff is the transport's job.
 */
export interface TransportEvents {
  /** A new link is up. */
  link: [link: Link];
  /** A non-fatal problem worth logging (connect refused, device missing, broker down). */
  warn: [err: Error];
}

/** A started transport. */
export interface Transport extends EventEmitter<TransportEvents> {
  /** The URL it was built from (credentials redacted). */
  readonly url: string;
  /** Stop reconnecting, close every link; idempotent. */
  close(): Promise<void>;
}
