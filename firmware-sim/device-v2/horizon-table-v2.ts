/**
 * The horizon table of one scope on the v2 device (§7 item 6, design §4.3): at most
 * {@link HORIZON_SLOTS} entries `(id, depth, frontier index)`, in fixed buffers. An entry is a
 * pruned (evicted) or adopted command that a retained one names as a parent. When full, the
 * entry of smallest depth gives way — the device then can no longer give a record for it, a
 * stated limitation: a requester that lacks that parent orphans its children until a host that
 * keeps more (the gateway) serves them.
 *
 * Also the pending horizon records of the current poll round of the scope (§4.6): at most
 * `MAX_PENDING_RECORDS`, the oldest dropped when full, all dropped when the round ends.
 */
import { ID_BYTES } from '../../protocol/constants.js';
import { MAX_PENDING_RECORDS } from '../../protocol/constants-v2.js';
import type { HorizonRecord } from '../../protocol/horizon-record.js';
import { sameId } from './scope-ring-v2.js';

/** Entries of a device's horizon table per scope. */
export const HORIZON_SLOTS = 16;

/** A fixed table of horizon entries. */
export class HorizonTableV2 {
  private readonly ids = new Uint8Array(HORIZON_SLOTS * ID_BYTES);
  private readonly depths = new Uint32Array(HORIZON_SLOTS);
  private readonly frontiers = new Uint8Array(HORIZON_SLOTS);
  private n = 0;

  /** Entries held. */
  get count(): number {
    return this.n;
  }

  /** Position of `id`, or -1. */
  indexOf(id: Uint8Array): number {
    for (let i = 0; i < this.n; i++) if (sameId(this.idAt(i), id)) return i;
    return -1;
  }

  /** Id at `i` (a view). */
  idAt(i: number): Uint8Array {
    return this.ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES);
  }

  /** Depth at `i`. */
  depthAt(i: number): number {
    return this.depths[i]!;
  }

  /** Frontier index at `i`. */
  frontierAt(i: number): number {
    return this.frontiers[i]!;
  }

  /**
   * Add an entry (no-op when held). Full: the entry of smallest depth is dropped, which may be the
   * new one. Returns whether an entry was dropped.
   */
  add(id: Uint8Array, depth: number, frontier: number): boolean {
    if (this.indexOf(id) >= 0) return false;
    if (this.n < HORIZON_SLOTS) {
      this.put(this.n++, id, depth, frontier);
      return false;
    }
    let i = 0;
    for (let k = 1; k < this.n; k++) if (this.depths[k]! < this.depths[i]!) i = k;
    if (this.depths[i]! < depth) this.put(i, id, depth, frontier); // else the new entry is the shallowest
    return true;
  }

  private put(i: number, id: Uint8Array, depth: number, frontier: number): void {
    this.ids.set(id, i * ID_BYTES);
    this.depths[i] = depth;
    this.frontiers[i] = frontier;
  }

  /** Drop every entry for which `keep` is false. */
  retain(keep: (id: Uint8Array) => boolean): void {
    let j = 0;
    for (let i = 0; i < this.n; i++) {
      if (!keep(this.idAt(i))) continue;
      if (j !== i) {
        this.ids.copyWithin(j * ID_BYTES, i * ID_BYTES, (i + 1) * ID_BYTES);
        this.depths[j] = this.depths[i]!;
        this.frontiers[j] = this.frontiers[i]!;
      }
      j++;
    }
    this.n = j;
  }

  /** Positions ordered deepest first (for a poll's sample). */
  deepestFirst(): number[] {
    return Array.from({ length: this.n }, (_, i) => i).sort((a, b) => this.depths[b]! - this.depths[a]!);
  }

  /** Forget everything. */
  clear(): void {
    this.n = 0;
  }
}

/** The pending records of one (link, scope) poll round. */
export class PendingRecords {
  /** Records, oldest first (at most `MAX_PENDING_RECORDS`). */
  readonly list: HorizonRecord[] = [];

  /** Keep a record (a repeat of a held id is ignored); the oldest goes when full. */
  add(r: HorizonRecord): void {
    if (this.find(r.id) !== undefined) return;
    if (this.list.length >= MAX_PENDING_RECORDS) this.list.shift();
    this.list.push(r);
  }

  /** The record for `id`, if pending. */
  find(id: Uint8Array): HorizonRecord | undefined {
    return this.list.find((r) => sameId(r.id, id));
  }

  /** The round ended (or the link closed). */
  clear(): void {
    this.list.length = 0;
  }
}
