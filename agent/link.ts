/**
 * The contract between transports and the engine: a link carries whole frame bodies (one
 * protocol message each) to one remote peer. Transports implement it; the engine uses only it,
 * so the engine never imports `net`, `serialport` or `mqtt`.
 */
import { EventEmitter } from 'node:events';

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
