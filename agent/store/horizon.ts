/**
 * The horizon of a scope at this host (docs/design/v2-scopes.md §4.3): the ids that a retained
 * command names as a parent but that are not retained themselves, each with its depth and its
 * membership frontier (an interned frontier number, as the store's `frontierOf`). Pure, in
 * memory; horizon-file.ts persists it.
 *
 * Each entry counts its referrers: the retained commands that name it. An entry is born with at
 * least one referrer and leaves when the count reaches 0. That happens only when the referrers
 * themselves are pruned, never otherwise: retained commands are never removed except by
 * pruning, and pruning takes a command's data ancestors before it (handles are a causal order),
 * so a referrer is pruned only after the entry it names — which is why the planner can create
 * an entry with all of its children as referrers, and retire it when the last is pruned.
 */
import { compareBytes } from '../../protocol/command.js';
import { toHex } from '../../protocol/keys.js';

/**
 * One horizon entry: a pruned (or adopted, never held) command's id, depth and frontier. `F` is
 * whatever the caller uses for a frontier: its interned number (the default), or the ids of the
 * membership commands (what horizon.bin and a horizon record carry).
 */
export interface HorizonEntry<F = number> {
  /** Command id, 32 bytes. */
  readonly id: Uint8Array;
  /** Its depth (as a held command's `depthOf`). */
  readonly depth: number;
  /** Its membership frontier `F(id)` (opaque here). */
  readonly frontier: F;
}

interface Slot<F> {
  readonly entry: HorizonEntry<F>;
  refs: number;
}

/** Key of an id in the set: lowercase hex. */
const keyOf = (id: Uint8Array | string): string => (typeof id === 'string' ? id : toHex(id));

/** The horizon set: entries by id with a referrer count each. */
export class HorizonSet<F = number> {
  private readonly slots = new Map<string, Slot<F>>();

  /** A set holding `entries`, each with its referrer count (≥ 1). */
  static of<F>(entries: Iterable<{ entry: HorizonEntry<F>; refs: number }>): HorizonSet<F> {
    const set = new HorizonSet<F>();
    for (const { entry, refs } of entries) set.add(entry, refs);
    return set;
  }

  /** Number of entries. */
  get size(): number {
    return this.slots.size;
  }

  /** Whether `id` (bytes or lowercase hex) is an entry. */
  has(id: Uint8Array | string): boolean {
    return this.slots.has(keyOf(id));
  }

  /** The entry of `id`, or undefined. */
  get(id: Uint8Array | string): HorizonEntry<F> | undefined {
    return this.slots.get(keyOf(id))?.entry;
  }

  /** Number of retained commands that name `id` (0 when it is not an entry). */
  refsOf(id: Uint8Array | string): number {
    return this.slots.get(keyOf(id))?.refs ?? 0;
  }

  /**
   * Add an entry: from pruning (the planner; `refs` = the command's children, all retained) or
   * from adoption of a horizon record (§4.6; `refs` = the placed commands naming it, usually 1).
   * Adding an id that is already an entry only adds `refs` (its depth and frontier are those
   * already held: an id has one depth and one frontier).
   * @throws RangeError when `refs` is not a positive integer or the id is not 32 bytes.
   */
  add(entry: HorizonEntry<F>, refs = 1): void {
    if (!Number.isInteger(refs) || refs < 1) throw new RangeError(`horizon entry needs ≥ 1 referrer, got ${refs}`);
    if (entry.id.length !== 32) throw new RangeError(`horizon entry id must be 32 bytes, got ${entry.id.length}`);
    const key = keyOf(entry.id);
    const slot = this.slots.get(key);
    if (slot !== undefined) slot.refs += refs;
    else this.slots.set(key, { entry: { id: entry.id.slice(), depth: entry.depth, frontier: entry.frontier }, refs });
  }

  /**
   * A retained command naming `id` was appended (a late command built on a pruned parent,
   * §4.4). Returns false, changing nothing, when `id` is not an entry.
   */
  addRef(id: Uint8Array | string): boolean {
    const slot = this.slots.get(keyOf(id));
    if (slot === undefined) return false;
    slot.refs++;
    return true;
  }

  /**
   * A retained command naming `id` was pruned: one referrer fewer; the entry leaves at 0.
   * Returns true when the entry left. Not an entry: nothing happens, returns false.
   */
  dropRef(id: Uint8Array | string): boolean {
    const key = keyOf(id);
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    if (--slot.refs > 0) return false;
    this.slots.delete(key);
    return true;
  }

  /** Remove `id` whatever its referrers (a store rebuilding its horizon). True if it was an entry. */
  remove(id: Uint8Array | string): boolean {
    return this.slots.delete(keyOf(id));
  }

  /** Every entry, in insertion order. */
  entries(): HorizonEntry<F>[] {
    return [...this.slots.values()].map((s) => s.entry);
  }

  /**
   * Up to `n` entries, deepest first, ties by id ascending (deterministic): what a requester
   * names in a poll's `sample` (§4.6, at most MAX_HORIZON_SAMPLE).
   */
  deepestFirst(n: number): HorizonEntry<F>[] {
    if (n <= 0) return [];
    const all = this.entries();
    all.sort((a, b) => b.depth - a.depth || compareBytes(a.id, b.id));
    return all.slice(0, n);
  }

  /** An independent copy (the planner works on one, leaving the caller's set untouched). */
  clone(): HorizonSet<F> {
    const copy = new HorizonSet<F>();
    for (const [key, slot] of this.slots) copy.slots.set(key, { entry: slot.entry, refs: slot.refs });
    return copy;
  }
}
