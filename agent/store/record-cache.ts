/**
 * A byte-bounded LRU of command encodings by handle. Pushes and poll answers mostly read the
 * newest commands, so keeping the last few megabytes in memory spares most positional reads.
 */

/** LRU map handle → encoding, bounded by the sum of encoding lengths. */
export class RecordCache {
  // A Map iterates in insertion order; re-inserting on a hit makes the first key the LRU one.
  private readonly map = new Map<number, Uint8Array>();
  private bytes = 0;
  /** Lookups answered from the cache. */
  hits = 0;
  /** Lookups that missed. */
  misses = 0;

  /** @param maxBytes budget; 0 disables caching. */
  constructor(private readonly maxBytes: number) {}

  /** The cached encoding (the cache's own array: copy before handing it out), or undefined. */
  get(h: number): Uint8Array | undefined {
    const v = this.map.get(h);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(h);
    this.map.set(h, v);
    return v;
  }

  /** Insert (the cache keeps `bytes`: pass an array nobody else mutates). */
  set(h: number, bytes: Uint8Array): void {
    if (bytes.length > this.maxBytes) return;
    const old = this.map.get(h);
    if (old !== undefined) {
      this.bytes -= old.length;
      this.map.delete(h);
    }
    this.map.set(h, bytes);
    this.bytes += bytes.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }

  /** Bytes currently held. */
  get size(): number {
    return this.bytes;
  }
}
