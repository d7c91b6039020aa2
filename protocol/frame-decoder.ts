/** Common shape of the stream frame decoders (serial and TCP). */
import type { SyncwireError } from './errors.js';

/** What one `push` produced. */
export interface FrameDecodeResult {
  /** Complete frame bodies, in order. Each is owned by the caller. */
  frames: Uint8Array[];
  /** Typed errors for frames that were discarded. */
  errors: SyncwireError[];
  /** True when the stream cannot be resynchronised (TCP length corruption): close the link. */
  fatal: boolean;
}

/** A pure, push-based decoder that turns a byte stream into frame bodies. */
export interface FrameDecoder {
  /** Feed received bytes. Never throws; never buffers more than one maximum frame. */
  push(chunk: Uint8Array): FrameDecodeResult;
  /** Forget any partial frame. */
  reset(): void;
}
