/**
 * Sealed frames (PROTOCOL.md §7.4): `0x53 ‖ seq ‖ ChaCha20-Poly1305(key, nonce(seq), aad =
 * header, plaintext) ‖ tag`, the receiver's replay window, and one direction's sender and
 * receiver. The handshake side (ephemeral keys, transcript, key schedule) is `seal-keys.ts`,
 * re-exported here so that `seal.js` is the one import for sealing. Pure: keys and bytes in,
 * bytes out.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { SealError } from './seal-keys.js';

export * from './seal-keys.js';


/** First byte of every sealed frame body (no CBOR message starts with it, no ARQ frame either). */
export const SEAL_MARKER = 0x53;
/** Marker plus the 4-byte big-endian sequence number. */
export const SEAL_HEADER_BYTES = 5;
/** Poly1305 tag length. */
export const SEAL_TAG_BYTES = 16;
/** Bytes a sealed frame adds to its plaintext: header and tag. */
export const SEAL_OVERHEAD = SEAL_HEADER_BYTES + SEAL_TAG_BYTES;
/** Sequence numbers a receiver accepts below the highest it has opened (the replay window). */
export const REPLAY_WINDOW = 64;
/** Largest sequence number a sender may use; it must re-handshake before getting there. */
export const SEAL_SEQ_MAX = 0xffffffff;
/** A sender starts a fresh handshake once its next sequence number reaches this (2^31). */
export const SEAL_REKEY_AT = 0x80000000;

/** The 12-byte AEAD nonce of a sequence number: 8 zero bytes, then the number big-endian. */
function aeadNonce(seq: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32BE(seq, 8);
  return n;
}

/**
 * Seal one frame body: `0x53 ‖ seq (u32 BE) ‖ ChaCha20-Poly1305(key, nonce(seq), aad = header, plaintext) ‖ tag`.
 * An empty plaintext is the sealed close marker.
 * @throws RangeError when `seq` is not a u32.
 */
export function sealFrame(key: Uint8Array, seq: number, plaintext: Uint8Array): Uint8Array {
  if (!Number.isInteger(seq) || seq < 0 || seq > SEAL_SEQ_MAX) throw new RangeError(`sequence number ${seq} is not a u32`);
  const out = new Uint8Array(SEAL_OVERHEAD + plaintext.length);
  out[0] = SEAL_MARKER;
  new DataView(out.buffer).setUint32(1, seq);
  const header = out.subarray(0, SEAL_HEADER_BYTES);
  const c = createCipheriv('chacha20-poly1305', key, aeadNonce(seq), { authTagLength: SEAL_TAG_BYTES });
  c.setAAD(header, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  out.set(body, SEAL_HEADER_BYTES);
  out.set(c.getAuthTag(), SEAL_HEADER_BYTES + plaintext.length);
  return out;
}

/** Whether a frame body is a sealed frame (by its marker; opening decides whether it is genuine). */
export function isSealed(body: Uint8Array): boolean {
  return body.length > 0 && body[0] === SEAL_MARKER;
}

/** The sequence number in a sealed frame's header (unauthenticated until it opens). */
export function sealedSeq(body: Uint8Array): number {
  return new DataView(body.buffer, body.byteOffset, body.length).getUint32(1);
}

/**
 * Open a sealed frame.
 * @returns its sequence number and plaintext (empty: the close marker).
 * @throws SealError `not-sealed` or `bad-tag`.
 */
export function openFrame(key: Uint8Array, body: Uint8Array): { seq: number; plaintext: Uint8Array } {
  if (body.length < SEAL_OVERHEAD || body[0] !== SEAL_MARKER) throw new SealError('not-sealed', `not a sealed frame (${body.length} bytes)`);
  const seq = sealedSeq(body);
  const tagAt = body.length - SEAL_TAG_BYTES;
  const d = createDecipheriv('chacha20-poly1305', key, aeadNonce(seq), { authTagLength: SEAL_TAG_BYTES });
  d.setAAD(body.subarray(0, SEAL_HEADER_BYTES), { plaintextLength: tagAt - SEAL_HEADER_BYTES });
  d.setAuthTag(body.subarray(tagAt));
  const plaintext = d.update(body.subarray(SEAL_HEADER_BYTES, tagAt));
  try {
    d.final();
  } catch {
    throw new SealError('bad-tag', `sealed frame ${seq} failed to open`);
  }
  return { seq, plaintext: new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length) };
}

/**
 * The receiver's replay window (§7.4): accepts each sequence number at most once, and only if it
 * is above the highest opened so far or less than {@link REPLAY_WINDOW} below it. Update it only
 * after a frame opened: a forged header must not move it.
 */
export class ReplayWindow {
  /** Highest sequence number accepted; -1 before the first. */
  private top = -1;
  /** Bit i set: `top − i` was accepted (i < 64). */
  private seen = 0n;

  /** Whether `seq` would be accepted (not a replay, not too old). */
  fresh(seq: number): boolean {
    if (seq > this.top) return true;
    const back = this.top - seq;
    return back < REPLAY_WINDOW && ((this.seen >> BigInt(back)) & 1n) === 0n;
  }

  /** Record `seq` as accepted; returns false (and records nothing) when it is not {@link fresh}. */
  accept(seq: number): boolean {
    if (!this.fresh(seq)) return false;
    if (seq > this.top) {
      const shift = seq - this.top;
      this.seen = shift >= REPLAY_WINDOW ? 1n : ((this.seen << BigInt(shift)) | 1n) & ((1n << BigInt(REPLAY_WINDOW)) - 1n);
      this.top = seq;
    } else {
      this.seen |= 1n << BigInt(this.top - seq);
    }
    return true;
  }
}

/** One direction of a sealed link on the sending side: the key and the next sequence number. */
export class Sealer {
  private seq = 0;
  constructor(private readonly key: Uint8Array) {}

  /** Sequence number the next frame gets. */
  get next(): number {
    return this.seq;
  }

  /** Whether the sender should start a fresh handshake now (§7.4). */
  get rekeyDue(): boolean {
    return this.seq >= SEAL_REKEY_AT;
  }

  /**
   * Seal the next frame.
   * @throws SealError `exhausted` once every sequence number was used.
   */
  seal(plaintext: Uint8Array): Uint8Array {
    if (this.seq > SEAL_SEQ_MAX) throw new SealError('exhausted', 'sealed sequence numbers used up; re-handshake');
    return sealFrame(this.key, this.seq++, plaintext);
  }
}

/** One direction of a sealed link on the receiving side: the key and the replay window. */
export class Opener {
  private readonly window = new ReplayWindow();
  constructor(private readonly key: Uint8Array) {}

  /**
   * Open a frame and admit it through the replay window.
   * @returns the plaintext, or null for a replay or a frame too old for the window.
   * @throws SealError `not-sealed` or `bad-tag` (the window is untouched).
   */
  open(body: Uint8Array): Uint8Array | null {
    if (body.length >= SEAL_OVERHEAD && body[0] === SEAL_MARKER && !this.window.fresh(sealedSeq(body))) return null;
    const { seq, plaintext } = openFrame(this.key, body);
    return this.window.accept(seq) ? plaintext : null;
  }
}
