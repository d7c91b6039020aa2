/**
 * The in-memory state of one scope store (docs/design/v2-scopes.md §5.3), shared by the disk and
 * memory stores: a {@link SlotIndex} holds ids, parents, depths, lengths, offsets, authors,
 * kind, frontier number and arrival time per *slot*, and this adds the retention state (base,
 * pinned commands, horizon, gap markers) and the handle ↔ slot mapping.
 *
 * The slot index starts as a {@link CompactIndex} (one buffer, a few hundred bytes for an idle
 * scope, §5.4) and becomes a {@link CommandSlotIndex} past {@link COMPACT_MAX_COMMANDS}
 * commands, where the compact one's linear scans would start to cost and the CommandIndex's
 * fixed ~3 KB no longer matters. Everything else is created when first needed.
 *
 * Slots are dense in load order; handles are not, and are never renumbered. The mapping is
 * monotonic: the handles below `dense0` that were retained when the slots were last laid out
 * (`low`, ascending) take the first slots, and every handle from `dense0` on has slot
 * `low.length + (h − dense0)`. `dense0` is the base at open, then the base at the last repack.
 *
 * A command pruned while open keeps its slot only until the pruned ("dead") slots reach a
 * quarter of the slots (and at least {@link REPACK_MIN}): then the retained slots are copied
 * into a new slot index laid out as at an open with the current base (the §5.3 shift). A repack
 * costs O(slots) ≤ 4 × the slots freed, so O(1) amortised per pruned command, and a bounded
 * scope's slots stay below 4/3 × retained + REPACK_MIN however long it runs.
 */
import type { CommandV2 } from '../../protocol/command-v2.js';
import type { CommandKindValue } from '../../protocol/constants-v2.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import { CommandSlotIndex, repackSlots, type SlotMove } from './command-slot-index.js';
import { COMPACT_MAX_COMMANDS, CompactIndex } from './compact-index.js';
import { copyEntry } from './scope-horizon-state.js';
import { NONE, ScopeSlotMap, appended } from './scope-slot-map.js';
import type { HorizonEntry, PrunePlan } from './scope-store-contract.js';

/** Dead slots below which no repack happens: a small scope does not re-lay its index at every prune. */
export const REPACK_MIN = 16;

/** Per-handle state and retention of one scope. Not a store: it holds no command bytes. */
export class ScopeIndex extends ScopeSlotMap {
  /** Slots of pruned handles (freed by the next repack). */
  private dead = 0;
  /** Data commands below base that are retained (heads kept by pruning). */
  private pinnedData: Set<number> | null = null;
  /** Membership commands below base that have (pruned) children, so are no heads though no loaded command names them. */
  private notHeads: Set<number> | null = null;
  /** Membership handles, ascending (never pruned; a scope has at most 1,024). */
  private memberList: readonly number[] = NONE;

  /**
   * @param base0 the base read from `horizon.bin` (0 for a new scope)
   * @param pinnedData0 data handles below `base0` that are retained
   * @param horizon0 the horizon read from `horizon.bin`
   */
  constructor(base0 = 0, pinnedData0: readonly number[] = [], horizon0: readonly HorizonEntry[] = []) {
    super(base0);
    if (pinnedData0.length > 0) this.pinnedData = new Set(pinnedData0);
    this.setHorizon(horizon0);
  }

  /** Whether `h` is retained: at or above base, or a pinned command below it. */
  isRetained(h: number): boolean {
    if (!Number.isInteger(h) || h < 0 || h >= this.size) return false;
    if (h >= this.base) return true;
    const s = this.slotOf(h);
    return s >= 0 && (this.ix.kindOf(s) !== CommandKind.Data || (this.pinnedData?.has(h) ?? false));
  }

  /** The slot of retained `h`. @throws RangeError for a pruned or unknown handle. */
  slot(h: number): number {
    if (!this.isRetained(h)) throw new RangeError(`handle ${h} is not retained (base ${this.base}, size ${this.size})`);
    return this.slotOf(h);
  }

  /** Handle of a retained id, else -1. A pruned id whose slot is not yet repacked away gives -2. */
  find(id: Uint8Array): number {
    const s = this.ix.indexOf(id);
    if (s < 0) return -1;
    const h = this.handleOf(s);
    return this.isRetained(h) ? h : -2;
  }

  /** Membership handles, ascending. */
  get members(): readonly number[] {
    return this.memberList;
  }

  kindOf(h: number): CommandKindValue {
    return this.ix.kindOf(this.slot(h));
  }

  frontierOf(h: number): number {
    return this.ix.frontierOf(this.slot(h));
  }

  appendedAtS(h: number): number {
    return this.ix.timeOf(this.slot(h));
  }

  /** Retained parents of `h`. */
  parentsOf(h: number): number[] {
    return this.ix.parentsOf(this.slot(h)).map((s) => this.handleOf(s)).filter((p) => this.isRetained(p));
  }

  heads(): number[] {
    const out: number[] = [];
    for (const s of this.ix.heads()) {
      const h = this.handleOf(s);
      if (this.notHeads === null || !this.notHeads.has(h)) out.push(h);
    }
    return out;
  }

  /**
   * The slots of `cmd`'s parents and the largest depth among its horizon parents, or null when a
   * parent is neither retained nor a horizon entry. `lenient` (open): such a parent is left out
   * and counted in `missing` instead.
   */
  resolve(cmd: CommandV2, lenient = false): { slots: number[]; floor: number; missing: number } | null {
    const slots: number[] = [];
    let floor = 0;
    let missing = 0;
    for (const p of cmd.parents) {
      const h = this.find(p);
      if (h >= 0) {
        slots.push(this.slotOf(h));
        continue;
      }
      const e = this.hz?.get(toHex(p));
      if (e === undefined) {
        if (!lenient) return null;
        missing++;
      } else if (e.depth > floor) floor = e.depth;
    }
    return { slots, floor, missing };
  }

  /**
   * Index `cmd` at handle `h` with resolved parents: `size` for an append; on open, the pinned
   * handles below the base first (ascending), then every handle from the base on.
   * `offset` is the owning store's (a file offset, or a buffer offset).
   */
  add(h: number, cmd: CommandV2, parents: { slots: number[]; floor: number }, frontier: number, offset: number, timeS: number): number {
    if (h < this.dense0) {
      // Pinned handles are loaded first, ascending (their slots precede every slot from dense0 on).
      const last = this.low[this.low.length - 1] ?? -1;
      if (h <= last || this.ix.size !== this.low.length) throw new RangeError(`pinned handle ${h} out of order`);
    } else if (h !== this.size) throw new RangeError(`handle ${h} is not the next handle ${this.size}`);
    if (this.ix.size === COMPACT_MAX_COMMANDS && this.ix instanceof CompactIndex) this.ix = CommandSlotIndex.from(this.ix);
    this.ix.add(cmd.id, parents.slots, cmd.bytes.length, offset, cmd.author, cmd.seq, parents.floor, cmd.kind, frontier, timeS >>> 0);
    if (h < this.dense0) this.low = appended(this.low, h);
    else this.size = h + 1;
    if (cmd.kind !== CommandKind.Data) this.memberList = appended(this.memberList, h);
    return h;
  }

  /** Mark membership handle `h` (below base, loaded on open) as no head: it had children, all pruned. */
  markNotHead(h: number): void {
    (this.notHeads ??= new Set()).add(h);
  }

  /**
   * Apply `plan` (see {@link PrunePlan}): base moves past the highest pruned handle, data
   * commands left below it become pinned, the horizon is replaced; then, when the dead slots
   * have reached a quarter of the slots, {@link repack}. Returns whether it repacked.
   * @param move the store's {@link SlotMove} for a repack (none: offsets are kept)
   * @throws RangeError (nothing changed) when a handle is not a retained data command or is a head.
   */
  prune(plan: PrunePlan, move?: SlotMove): boolean {
    const heads = new Set(this.heads());
    let top = -1;
    for (const p of plan.prune) {
      if (!this.isRetained(p) || this.ix.kindOf(this.slotOf(p)) !== CommandKind.Data) throw new RangeError(`prune: handle ${p} is not a retained data command`);
      if (heads.has(p)) throw new RangeError(`prune: handle ${p} is a head`);
      if (p > top) top = p;
    }
    for (const p of plan.pinnedHeads ?? []) {
      if (!this.isRetained(p) || this.ix.kindOf(this.slotOf(p)) !== CommandKind.Data) throw new RangeError(`prune: pinned head ${p} is not a retained data command`);
    }
    const pruned = new Set(plan.prune);
    const newBase = Math.max(this.base, top + 1);
    for (let h = this.base; h < newBase; h++) {
      if (!pruned.has(h) && this.ix.kindOf(this.slotOf(h)) === CommandKind.Data) (this.pinnedData ??= new Set()).add(h);
    }
    for (const p of pruned) {
      this.pinnedData?.delete(p);
      this.notHeads?.delete(p);
      this.gaps?.delete(p);
    }
    if (this.pinnedData?.size === 0) this.pinnedData = null;
    this.base = newBase;
    this.dead += pruned.size;
    this.setHorizon(plan.horizon);
    if (this.dead < Math.max(REPACK_MIN, this.ix.size / 4)) return false;
    this.repack(move);
    return true;
  }

  /**
   * Copy the retained slots into a new slot index laid out as an open at the current base would
   * (`low` = the pinned handles, `dense0` = base) and drop the dead ones. Heads are unchanged: a
   * retained command whose children were all pruned is a head of the new slot index, so it is
   * marked not a head, as an open does for membership commands.
   * @param move the store's {@link SlotMove} (none: offsets are kept)
   */
  repack(move?: SlotMove): void {
    const heads = new Set(this.heads());
    const keep: number[] = [];
    const low: number[] = [];
    for (let s = 0; s < this.ix.size; s++) {
      const h = this.handleOf(s);
      if (!this.isRetained(h)) continue;
      keep.push(s);
      if (h < this.base) low.push(h);
    }
    this.ix = repackSlots(this.ix, keep, move);
    this.low = low.length === 0 ? NONE : low;
    this.dense0 = this.base;
    this.dead = 0;
    this.notHeads = null;
    for (const s of this.ix.heads()) {
      const h = this.handleOf(s);
      if (!heads.has(h)) (this.notHeads ??= new Set()).add(h);
    }
  }

  /** Slots of pruned handles not yet freed (0 right after a repack or an open). */
  get deadSlots(): number {
    return this.dead;
  }

  /** Add adopted entries that are neither retained nor in the horizon; returns how many were added. */
  adopt(entries: readonly HorizonEntry[]): number {
    let n = 0;
    for (const e of entries) {
      const hex = toHex(e.id);
      if (this.find(e.id) >= 0 || this.hz?.has(hex)) continue;
      (this.hz ??= new Map()).set(hex, copyEntry(e));
      n++;
    }
    return n;
  }

  /** Data commands below base that are retained, ascending. */
  pinnedDataList(): number[] {
    return this.pinnedData === null ? [] : [...this.pinnedData].sort((a, b) => a - b);
  }

  /** Membership handles below base, each with whether it is a head. */
  pinnedMembers(): Array<[number, boolean]> {
    const heads = new Set(this.heads());
    return this.memberList.filter((h) => h < this.base).map((h) => [h, heads.has(h)]);
  }

}

