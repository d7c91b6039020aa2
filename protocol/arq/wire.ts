/**
 * ARQ frame bodies (docs/PROTOCOL.md §2.1.1): typed DATA, FRAG, ACK and RST frames and their
 * bytes. Each body is then wrapped as a serial frame, `COBS(body ‖ CRC-32) ‖ 0x00`.
 *
 * The first byte tells ARQ frames from plain protocol messages: a message starts with a CBOR
 * array head (0x80–0x9f), every ARQ frame with a byte below 0x10.
 *
 * ```
 * DATA  [0x01 | flags, epoch, seq] ‖ data                                 flags: 0x02 LAST, 0x04 START
 * FRAG  [0x09 | flags, epoch, seq, offset u16 BE, total u16 BE] ‖ data
 * ACK   [0x02, epoch, next, sack u32 BE]
 * RST   [0x04, epoch]
 * ```
 *
 * {@link decodeArqFrame} applies every per-frame rule of the spec (lengths, START only with seq 0,
 * chunk and FRAG bounds), so the sender and receiver only see well-formed frames.
 *
 * Sequence numbers are 8 bits and wrap: with at most {@link ARQ_MAX_WINDOW} chunks outstanding on
 * a FIFO line they are unambiguous, and a 16-bit seq would cost 0.1–3 % on every chunk for nothing.
 */

/** Most chunks a sender may have in flight (the receiver's acceptance window). */
export const ARQ_MAX_WINDOW = 64;
/** Largest chunk (DATA payload or FRAG `total`) any endpoint sends or accepts. */
export const ARQ_MAX_CHUNK = 4096;
/** Header bytes of a DATA frame. */
export const ARQ_DATA_HEADER = 3;
/** Header bytes of a FRAG frame. */
export const ARQ_FRAG_HEADER = 7;
/** Bytes of an ACK frame. */
export const ARQ_ACK_BYTES = 7;
/** Bytes of an RST frame. */
export const ARQ_RST_BYTES = 2;

/** First byte of an ACK. */
const ACK = 0x02;
/** First byte of an RST. */
const RST = 0x04;
/** First-byte bits of DATA and FRAG (bit 0 set means one of them). */
const CHUNK = 0x01;
const LAST = 0x02;
const START = 0x04;
const FRAG = 0x08;

/** A whole chunk of a message. `data` is 1..{@link ARQ_MAX_CHUNK} bytes. */
export interface DataFrame {
  kind: 'data';
  epoch: number;
  seq: number;
  /** The chunk ends a message. */
  last: boolean;
  /** First chunk of a stream epoch (only with seq 0). */
  start: boolean;
  data: Uint8Array;
}

/** Bytes `offset…offset + data.length` of chunk `seq`, whose whole length is `total`. */
export interface FragFrame {
  kind: 'frag';
  epoch: number;
  seq: number;
  /** LAST of the whole chunk. */
  last: boolean;
  /** START of the whole chunk. */
  start: boolean;
  offset: number;
  total: number;
  data: Uint8Array;
}

/** Acknowledgement: every seq before `next` arrived; bit i of `sack` says seq `next + 1 + i` did too. */
export interface AckFrame {
  kind: 'ack';
  epoch: number;
  next: number;
  /** Unsigned 32-bit. */
  sack: number;
}

/** "I am not in your stream `epoch`": the receiver was reset and saw a non-START chunk of it. */
export interface RstFrame {
  kind: 'rst';
  epoch: number;
}

/** Any ARQ frame. */
export type ArqFrame = DataFrame | FragFrame | AckFrame | RstFrame;

/** Why {@link decodeArqFrame} refused a body (each one counts as a bad frame). */
export type ArqFrameProblem =
  | 'short' // fewer than 2 bytes, or a DATA/FRAG without a data byte
  | 'unknown-kind' // first byte ≥ 0x10, or an even first byte that is no ACK or RST
  | 'bad-length' // an ACK that is not 7 bytes or an RST that is not 2
  | 'start-not-seq0'
  | 'chunk-too-large' // DATA data or FRAG total over ARQ_MAX_CHUNK
  | 'frag-out-of-range'; // FRAG offset + data past total

/** A body that is no well-formed ARQ frame. */
export interface ArqMalformed {
  kind: 'malformed';
  problem: ArqFrameProblem;
}

/** True when a link frame body is an ARQ frame rather than a plain protocol message. */
export function isArqFrame(body: Uint8Array): boolean {
  return body.length >= 2 && body[0]! < 0x10;
}

/**
 * Parse one frame body. Never throws. The `data` of a DATA or FRAG frame is a view into `body`:
 * copy it to keep it beyond the caller's use of `body`.
 */
export function decodeArqFrame(body: Uint8Array): ArqFrame | ArqMalformed {
  if (body.length < 2) return bad('short');
  const k = body[0]!;
  if (k >= 0x10) return bad('unknown-kind');
  if ((k & CHUNK) === 0) {
    if (k === ACK) return body.length === ARQ_ACK_BYTES ? { kind: 'ack', epoch: body[1]!, next: body[2]!, sack: u32(body, 3) } : bad('bad-length');
    if (k === RST) return body.length === ARQ_RST_BYTES ? { kind: 'rst', epoch: body[1]! } : bad('bad-length');
    return bad('unknown-kind');
  }
  const frag = (k & FRAG) !== 0;
  const header = frag ? ARQ_FRAG_HEADER : ARQ_DATA_HEADER;
  if (body.length <= header) return bad('short');
  const epoch = body[1]!;
  const seq = body[2]!;
  const last = (k & LAST) !== 0;
  const start = (k & START) !== 0;
  if (start && seq !== 0) return bad('start-not-seq0');
  const data = body.subarray(header);
  if (!frag) return data.length > ARQ_MAX_CHUNK ? bad('chunk-too-large') : { kind: 'data', epoch, seq, last, start, data };
  const offset = (body[3]! << 8) | body[4]!;
  const total = (body[5]! << 8) | body[6]!;
  if (total > ARQ_MAX_CHUNK) return bad('chunk-too-large');
  if (offset + data.length > total) return bad('frag-out-of-range');
  return { kind: 'frag', epoch, seq, last, start, offset, total, data };
}

/**
 * The body of one frame.
 * @throws RangeError when a field is out of its range (epoch, seq, next: a byte; sack: u32;
 * data: 1..4096 bytes; FRAG offset + data within total ≤ 4096), so only decodable frames are made.
 */
export function encodeArqFrame(f: ArqFrame): Uint8Array {
  byte('epoch', f.epoch);
  switch (f.kind) {
    case 'ack':
      byte('next', f.next);
      if (!Number.isInteger(f.sack) || f.sack < 0 || f.sack > 0xffffffff) throw new RangeError(`sack must be a u32: ${f.sack}`);
      return Uint8Array.of(ACK, f.epoch, f.next, f.sack >>> 24, (f.sack >>> 16) & 0xff, (f.sack >>> 8) & 0xff, f.sack & 0xff);
    case 'rst':
      return Uint8Array.of(RST, f.epoch);
    case 'data':
    case 'frag': {
      byte('seq', f.seq);
      if (f.start && f.seq !== 0) throw new RangeError(`START with seq ${f.seq}`);
      const n = f.data.length;
      if (n < 1 || n > ARQ_MAX_CHUNK) throw new RangeError(`chunk data of ${n} bytes (1..${ARQ_MAX_CHUNK})`);
      const flags = CHUNK | (f.last ? LAST : 0) | (f.start ? START : 0);
      if (f.kind === 'data') {
        const out = new Uint8Array(ARQ_DATA_HEADER + n);
        out.set([flags, f.epoch, f.seq]);
        out.set(f.data, ARQ_DATA_HEADER);
        return out;
      }
      const { offset, total } = f;
      if (!Number.isInteger(offset) || !Number.isInteger(total) || offset < 0 || total > ARQ_MAX_CHUNK || offset + n > total) {
        throw new RangeError(`FRAG part ${offset}+${n} of ${total}`);
      }
      const out = new Uint8Array(ARQ_FRAG_HEADER + n);
      out.set([flags | FRAG, f.epoch, f.seq, offset >> 8, offset & 0xff, total >> 8, total & 0xff]);
      out.set(f.data, ARQ_FRAG_HEADER);
      return out;
    }
  }
}

/**
 * The frames that carry one chunk: a DATA frame, or, when the chunk is longer than `fragSize`,
 * ceil(length / fragSize) FRAGs at offsets 0, fragSize, 2·fragSize, … (a sender resends a chunk
 * cut larger than its current chunk size this way; new chunks are never sent as FRAGs).
 * @throws RangeError as {@link encodeArqFrame}.
 */
export function encodeChunk(c: Omit<DataFrame, 'kind'>, fragSize = Infinity): Uint8Array[] {
  const { epoch, seq, last, start, data } = c;
  const total = data.length;
  if (total <= fragSize) return [encodeArqFrame({ kind: 'data', epoch, seq, last, start, data })];
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < total; offset += fragSize) {
    const part = data.subarray(offset, Math.min(total, offset + fragSize));
    out.push(encodeArqFrame({ kind: 'frag', epoch, seq, last, start, offset, total, data: part }));
  }
  return out;
}

function bad(problem: ArqFrameProblem): ArqMalformed {
  return { kind: 'malformed', problem };
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function byte(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${name} must be a byte: ${v}`);
}
