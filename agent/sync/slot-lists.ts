/**
 * Short fixed-width lists, one per slot of a fixed-capacity table, in one array allocated once:
 * slot `s` owns entries `[s × width, s × width + count(s))`. Setting a list copies at most
 * `width` values (the first ones given); nothing allocates but {@link SlotLists.get}.
 */

/** What backs the entries: a typed array or a plain array filled once. */
export interface Backing<T> {
  [index: number]: T;
  readonly length: number;
}

/** `capacity` lists of at most `width` entries each. */
export class SlotLists<T> {
  private readonly count: Uint8Array;

  /** @param items `capacity × width` entries. @param width at most 255. */
  constructor(
    private readonly items: Backing<T>,
    capacity: number,
    readonly width: number,
  ) {
    this.count = new Uint8Array(capacity);
  }

  /** Replace the list of `slot` (keeps the first {@link width} values). */
  set(slot: number, values: ArrayLike<T>): void {
    const n = Math.min(values.length, this.width);
    for (let k = 0; k < n; k++) this.items[slot * this.width + k] = values[k]!;
    this.count[slot] = n;
  }

  /** Empty the list of `slot`. */
  clear(slot: number): void {
    this.count[slot] = 0;
  }

  /** The list of `slot` as a fresh array. */
  get(slot: number): T[] {
    const out: T[] = [];
    for (let k = 0; k < this.count[slot]!; k++) out.push(this.items[slot * this.width + k]!);
    return out;
  }

  /** Whether the list of `slot` holds `value`. */
  has(slot: number, value: T): boolean {
    for (let k = 0; k < this.count[slot]!; k++) if (this.items[slot * this.width + k] === value) return true;
    return false;
  }
}
