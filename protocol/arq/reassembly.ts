/**
 * The receiver's two buffers that grow byte by byte: FRAG parts of one chunk (in any order,
 * overlapping), and the in-order chunks of the message being assembled, bounded by the largest
 * message accepted (docs/PROTOCOL.md §2.1.1, "FRAG" and "Reassembly bound").
 */

/** A chunk collected from FRAGs. */
interface Partial {
  buf: Uint8Array;
  /** 1 for every byte of `buf` that arrived. */
  mask: Uint8Array;
  have: number;
}

/** A whole chunk. */
export interface Chunk {
  data: Uint8Array;
  last: boolean;
}

/** FRAG buffers by seq. */
export class FragBuffers {
  private readonly bySeq = new Map<number, Partial>();

  /**
   * Add bytes `offset…` of chunk `seq` (of `total` bytes; the caller checked the bounds). Returns
   * the chunk's bytes once every one arrived, else null. A `total` other than the buffer's starts
   * afresh.
   */
  add(seq: number, offset: number, total: number, part: Uint8Array): Uint8Array | null {
    let p = this.bySeq.get(seq);
    if (p === undefined || p.buf.length !== total) {
      p = { buf: new Uint8Array(total), mask: new Uint8Array(total), have: 0 };
      this.bySeq.set(seq, p);
    }
    for (let i = 0; i < part.length; i++) {
      if (p.mask[offset + i] === 0) {
        p.mask[offset + i] = 1;
        p.have++;
      }
    }
    p.buf.set(part, offset);
    if (p.have < total) return null;
    this.bySeq.delete(seq);
    return p.buf;
  }

  /** Forget the buffer of `seq` (a whole DATA chunk for it arrived). */
  drop(seq: number): void {
    this.bySeq.delete(seq);
  }

  clear(): void {
    this.bySeq.clear();
  }
}

/** The message being assembled from in-order chunks. */
export class MessageAssembly {
  private parts: Uint8Array[] = [];
  private bytes = 0;
  /** The current message grew past the limit: its remaining chunks are dropped. */
  private discarding = false;

  constructor(private readonly maxMessage: number) {}

  /**
   * Append the next in-order chunk. Returns the message it completes (a fresh buffer unless it
   * is a single chunk), 'oversized' when the message has just outgrown `maxMessage` (counted once
   * by the caller), else null.
   */
  add(c: Chunk): Uint8Array | 'oversized' | null {
    let result: Uint8Array | 'oversized' | null = null;
    if (!this.discarding) {
      if (this.bytes + c.data.length > this.maxMessage) {
        this.discarding = true;
        result = 'oversized';
        this.parts = [];
        this.bytes = 0;
      } else {
        this.parts.push(c.data);
        this.bytes += c.data.length;
      }
    }
    if (!c.last) return result;
    if (!this.discarding) result = this.parts.length === 1 ? this.parts[0]! : join(this.parts, this.bytes);
    this.clear();
    return result;
  }

  clear(): void {
    this.discarding = false;
    this.parts = [];
    this.bytes = 0;
  }
}

function join(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
