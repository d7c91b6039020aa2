/**
 * The per-(peer, scope) continuation of the v2 poll answer (docs/design/v2-scopes.md §4.5 step 7):
 * the cursor over a cached L, and one poll being answered. The cache of cursors (16 peers, LRU)
 * and the rule that continues one are `PollAnswererV2`'s (poll-answer-v2.ts).
 */
import type { PollRequest } from '../../protocol/messages-v2.js';
import type { AnswerItems } from './poll-answer-items.js';
import type { MissingV2 } from './poll-answer-missing.js';

/**
 * Where a peer's previous answer stopped in one scope (step 7): the cached L and what must be
 * unchanged for the next poll to continue it. @internal owned by `PollAnswererV2`
 */
export interface CursorV2 {
  items: AnswerItems;
  size: number;
  base: number;
  gap: boolean;
  heldFloor: number;
  /** Id of the last command sent (or, when an answer carried records only, its last record); null before any. */
  lastSent: Uint8Array | null;
  /** The `elide` of the poll L was built for: only a poll with the same continues it (L depends on it, §10.3 step 3a). */
  elide: boolean;
}

/** One poll being answered: a cached L to continue, or the walk of step 2 still running. */
export class PollJobV2 {
  /** @internal */
  constructor(
    readonly peer: string,
    readonly req: PollRequest,
    /** @internal */ readonly cursor: CursorV2 | null,
    private readonly walk: MissingV2 | null,
    /** @internal K of step 1 (empty for a continuation). */ readonly known: readonly Uint8Array[],
  ) {}
  /** True when the poll continues where the peer's previous answer stopped. */
  get continued(): boolean {
    return this.cursor !== null;
  }
  /** Advance the walk by at most `steps` commands; true once the answer can be built. */
  step(steps: number): boolean {
    return this.walk === null || this.walk.step(steps);
  }
  /** @internal M (completes the walk if needed). */
  missing(): Uint32Array {
    return this.walk!.result();
  }
}
