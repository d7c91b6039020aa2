/**
 * The per-scope store contract (docs/design/v2-scopes.md §5.3): what the engine relies on for one
 * scope of v2 commands. It is the v1 {@link CommandStore}'s handle API for {@link CommandV2} plus
 * retention: a base, pinned commands, the horizon, adoption and gap markers.
 *
 * Handles are per scope, dense in append order from 0 (the genesis), a causal order, and never
 * renumbered: pruning removes handles, it does not shift them. A handle is *retained* (its fields
 * can be read) or *pruned* (every read of it throws RangeError, {@link ScopeStore.isRetained}
 * says false). The store verifies nothing: the engine checks commands before appending them.
 */
import type { CommandV2 } from '../../protocol/command-v2.js';
import type { CommandKindValue } from '../../protocol/constants-v2.js';
import type { Durability, OpenReport } from './command-store.js';

/**
 * A horizon entry (§4.3): a pruned or never-held id that is a parent of a retained command,
 * with its depth and membership frontier (the ids of membership commands), exactly what a
 * horizon record carries (`protocol/horizon-record.ts`).
 */
export interface HorizonEntry {
  id: Uint8Array;
  depth: number;
  /** Membership command ids, ascending, ≤ 16. */
  frontier: Uint8Array[];
}

/** One record a gap marker lists (§4.6, §5.2): an id the requester never received, and its depth. */
export interface GapRecord {
  id: Uint8Array;
  depth: number;
}

/**
 * What a prune step applies (the planner is `agent/store/retention.ts`; only this shape is
 * relied on). `prune`: retained data commands that are not heads. `horizon`: the whole horizon
 * after the step (§4.3). `pinnedHeads`: heads kept below the new base (optional: the store
 * derives its pinned set itself and only checks these are retained data commands).
 */
export interface PrunePlan {
  readonly prune: readonly number[];
  readonly horizon: readonly HorizonEntry[];
  readonly pinnedHeads?: readonly number[];
}

/** Per-command information the engine computed when it accepted the command. */
export interface AppendExtra {
  /** The command's membership frontier F(c), as the engine's interned number (opaque to the store). */
  frontier: number;
}

/** What opening a scope store found. */
export interface ScopeOpenReport extends OpenReport {
  /** Records read from the segments and `members.log` whose handle is retained. */
  retained: number;
  /** Segments present after open (deleted ones, wholly below base, not counted). */
  segments: number;
  /** Segments deleted on open (a crash between writing `horizon.bin` and the deletes). */
  deletedSegments: number;
  /** Membership commands found in `members.log` but in no segment, appended on open (§5.2). */
  recoveredMembers: number;
}

/** Read access to one scope: what the open hooks and the engine's walks use. */
export interface ScopeStoreReader {
  /** The scope id (= the genesis id), 32 bytes. */
  readonly scopeId: Uint8Array;
  /** One past the highest handle ever assigned (pruned handles included): the next handle. */
  readonly size: number;
  /** Smallest handle that is retained and not pinned; every handle from it to `size` is retained. */
  readonly base: number;
  /** Handle of a retained command id, or -1 (absent, pruned, or only a horizon entry). O(1). */
  indexOf(id: Uint8Array): number;
  /** Whether `h` is a handle whose command this store keeps. */
  isRetained(h: number): boolean;
  /** The 32-byte id of `h` (a view: copy it to keep it). */
  idOf(h: number): Uint8Array;
  /** Generation number: 1 + the largest depth of the parents (held or horizon entries). */
  depthOf(h: number): number;
  /** Handles of the retained parents of `h` (a pruned or horizon parent has none here). */
  parentsOf(h: number): number[];
  /** Encoded length of `h` (no disk read). */
  lengthOf(h: number): number;
  /** Author fingerprint (a copy) and seq of `h`. */
  authorOf(h: number): { author: Uint8Array; seq: number };
  /**
   * Highest `seq` of `author` (fingerprint) among the commands pruned from this store, 0 when none:
   * kept across restarts (`horizon.bin`) so a local author never reuses a seq whose command was
   * pruned (design v2-scopes.md §11.3).
   */
  prunedSeq(author: Uint8Array): number;
  /** Command kind of `h` (0 data, 1 genesis, 2 membership). */
  kindOf(h: number): CommandKindValue;
  /** The frontier number the engine gave when `h` was appended (or its open hook computed). */
  frontierOf(h: number): number;
  /** When this host appended `h`, seconds since the Unix epoch. */
  appendedAtS(h: number): number;
  /** Exact encoding of `h` (a fresh copy; may read a file). */
  bytesOf(h: number): Uint8Array;
  /** Retained commands no command names as a parent, ascending. */
  heads(): number[];
  /** The horizon entries (copies), in no particular order. */
  horizon(): HorizonEntry[];
  /** The horizon entry of `id`, or undefined. */
  horizonEntry(id: Uint8Array): HorizonEntry | undefined;
  /** Gap markers stored just before `h` (oldest first), each the records it listed; [] when none. */
  gapsBefore(h: number): GapRecord[][];
}

/** One scope's store: the reads plus appends, retention and persistence. */
export interface ScopeStore extends ScopeStoreReader {
  readonly openReport: ScopeOpenReport;
  /**
   * Append a command the engine accepted: every parent is retained or a horizon entry. Returns
   * its handle; an id already retained returns that handle and writes nothing; a horizon
   * entry's id, the id of a command pruned since the index was last repacked or reopened, or one
   * of the last 4,096 data commands pruned since the store was opened (repacks included), returns
   * -1 and writes nothing. Older pruned ids, and those pruned before a reopen, are forgotten (so
   * memory stays bounded): such a command is refused by its missing parents, except one whose
   * parents are all still resolvable (design v2-scopes.md §11.3, "pruned history can come back").
   * @throws StoreError 'missing-parent' (a parent is neither), 'closed' after close.
   */
  append(cmd: CommandV2, extra: AppendExtra): number;
  /**
   * {@link append} for a command created here: indexed only once its record reached the file, so
   * a failed write leaves the store as it was. @throws StoreWriteError ('disk-full' on ENOSPC).
   */
  appendWritten(cmd: CommandV2, extra: AppendExtra): number;
  /**
   * Apply a prune step: the handles become pruned, base advances past the highest of them, the
   * horizon is replaced, and (disk) `horizon.bin` is rewritten, then every segment wholly below
   * base that holds no pinned data command is deleted.
   * The plan's horizon is taken as given (the planner computes it, §4.3).
   * @throws RangeError (nothing changed) when a handle is not a retained data command or is a head.
   */
  prune(plan: PrunePlan): Promise<void>;
  /** Add adopted horizon entries (§4.6; ids retained or already in the horizon are skipped) and persist them. */
  adopt(entries: readonly HorizonEntry[]): Promise<void>;
  /** Store a gap marker (first {@link MAX_GAP_RECORDS} records) before the next appended command. */
  appendGap(records: readonly GapRecord[]): void;
  /** Resolves once everything appended so far is as durable as the durability setting promises. */
  sync(): Promise<void>;
  /** Flush, fsync and release files. Idempotent. */
  close(): Promise<void>;
}

/** Hooks the engine gives at open (the store itself evaluates nothing). */
export interface ScopeOpenHooks {
  /**
   * Called once for every membership command (genesis included) in handle order, before any
   * command is indexed (§5.2: membership state is known before the segments are read).
   */
  membership?: (cmd: CommandV2) => void;
  /**
   * F(c) of a command being indexed on open, as the engine's frontier number, called in handle
   * order with the store as loaded so far (every parent is indexed or a horizon entry).
   * Default: 0 for every command.
   */
  frontier?: (cmd: CommandV2, store: ScopeStoreReader) => number;
}

/** Options of the disk scope store. */
export interface ScopeStoreOptions {
  /** The scope id (the directory's name, hex-decoded). */
  scopeId: Uint8Array;
  durability: Durability;
  hooks?: ScopeOpenHooks;
  /** The scope's byte bound B for the segment size rule (§5.3); 0 or absent: unbounded. */
  byteBound?: number;
  /** Clock for `appendedAtS`, seconds. Default: `Date.now() / 1000`. */
  nowS?: () => number;
}

export { MAX_GAP_RECORDS } from './log-format-v3.js';
