/**
 * The typed refusals of the per-scope store (docs/design/v2-scopes.md §5). They are
 * {@link StoreError}s, so the CLI's exit table already maps them to 78 (`EX_CONFIG`: the operator
 * must act, e.g. `syncwire store salvage --scope NAME`). The v1 reason list is kept exactly as it
 * is (its table is pinned by a test), so the scope-specific reason travels in `scopeReason` and
 * `reason` is the nearest v1 one, `bad-header`.
 */
import { StoreError } from './store-errors.js';

/** Why a scope directory cannot be opened. */
export type ScopeStoreErrorReason =
  /** `horizon.bin` is damaged: bad magic, length, CRC or body. */
  | 'bad-horizon'
  /** A segment or `members.log` has damage that cannot be repaired without renumbering handles. */
  | 'bad-segment'
  /** The directory holds another scope than the one asked for (its genesis id differs). */
  | 'wrong-scope';

/** A scope store refused to open; `scopeReason` says why (exit status 78). */
export class ScopeStoreError extends StoreError {
  constructor(
    readonly scopeReason: ScopeStoreErrorReason,
    path: string | undefined,
    message: string,
  ) {
    super('bad-header', path, message);
  }
}
