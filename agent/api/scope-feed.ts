/**
 * A v2 scope read as a feed (docs/design/v2-scopes.md §4.7): every retained command of one scope
 * in handle order (a causal order) as a {@link ScopedEntry} with a cursor, interleaved with gap
 * lines ({@link GapEntry}): a stored gap marker just before the command it precedes (`horizon`),
 * and a run of pruned handles the reader's position crossed (`pruned`, never stored). Gap lines
 * carry no cursor, so a reader resuming from the command before a gap sees it again: gaps at
 * least once, commands exactly once. Nothing is queued: entries are built from the store by
 * handle as the consumer asks, and a caught-up follower waits on the scope's `onAppended`.
 */
import { toHex } from '../../protocol/keys.js';
import { CursorError, formatCursor, parseCursor } from './cursor.js';
import { onAbort } from './fan-out.js';
import type { FeedScope, ScopedEntry } from './scope-entry.js';

export { legacyFeedScope, v2FeedScope, type EntryKind, type FeedScope, type ScopedEntry } from './scope-entry.js';

/** A gap line (§4.7); test with `'gap' in item`. */
export interface GapEntry {
  gap: {
    scope: string;
    /** `horizon`: a stored marker (commands before `horizon` were not received); `pruned`: positions this host pruned. */
    reason: 'horizon' | 'pruned';
    /** The reader's position (pruned only; absent when the reader started at the beginning). */
    after?: string;
    /** Cursor of the command that follows the gap: the stream continues with it. */
    before: string;
    /** The marker's records (horizon only). */
    horizon?: { id: string; depth: number }[];
  };
}

/** What a scope stream yields. */
export type ScopeItem = ScopedEntry | GapEntry;

/**
 * A reading position in one scope: {@link take} returns what is available from it now.
 * @throws CursorError (constructor) `cursor_syntax` for a malformed `after`, `cursor_unknown` for
 *   a handle not yet assigned or a retained handle whose id does not start with the prefix. A
 *   cursor naming a pruned handle is accepted: the reader starts with a `pruned` gap line.
 */
export class ScopeReader {
  private next: number;
  /** The position a pruned gap line names as `after` (the last command given, or the start cursor). */
  private position: string | undefined;
  private crossedPruned = false;

  constructor(private readonly scope: FeedScope, after?: string) {
    if (after === undefined) this.next = 0;
    else if (after === 'end') this.next = scope.size;
    else {
      const { handle, idPrefix } = parseCursor(after);
      if (handle >= scope.size || (scope.isRetained(handle) && !toHex(scope.idOf(handle)).startsWith(idPrefix))) {
        throw new CursorError('cursor_unknown', `scope ${scope.name} holds no command ${handle} with id ${idPrefix}…: it was never here (read again from the start)`);
      }
      // §4.7: a pruned handle's id can no longer be checked; the stream goes on after it with a gap line.
      this.crossedPruned = !scope.isRetained(handle);
      this.position = after;
      this.next = handle + 1;
    }
  }

  /** The cursor of the last command before the start, for `Syncwire-Start-Cursor` (null at the beginning or a pruned start). */
  get startCursor(): string | null {
    const h = this.next - 1;
    return h >= 0 && h < this.scope.size && this.scope.isRetained(h) ? formatCursor(h, this.scope.idOf(h)) : null;
  }

  /** Whether a command (or a pruned run) may be available now. */
  get behind(): boolean {
    return this.next < this.scope.size;
  }

  /** Up to `maxCommands` commands available now, each preceded by its gap lines; [] when caught up. */
  take(maxCommands: number): ScopeItem[] {
    const out: ScopeItem[] = [];
    const s = this.scope;
    let commands = 0;
    while (commands < maxCommands && this.next < s.size) {
      const h = this.next++;
      if (!s.isRetained(h)) {
        this.crossedPruned = true;
        continue;
      }
      const before = formatCursor(h, s.idOf(h));
      if (this.crossedPruned) {
        out.push({ gap: { scope: s.name, reason: 'pruned', ...(this.position === undefined ? {} : { after: this.position }), before } });
        this.crossedPruned = false;
      }
      for (const recs of s.gapsBefore(h)) {
        out.push({ gap: { scope: s.name, reason: 'horizon', before, horizon: recs.map((r) => ({ id: toHex(r.id), depth: r.depth })) } });
      }
      const e = s.entry(h);
      out.push(e);
      this.position = e.cursor;
      commands++;
    }
    return out;
  }
}

/** Resolves true once `scope` reports an append, false when `signal` aborts; always unsubscribes. */
export function waitForScope(scope: FeedScope, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    let settled = false;
    let offAbort = (): void => {};
    const done = (v: boolean): void => {
      if (settled) return;
      settled = true;
      off();
      offAbort();
      resolve(v);
    };
    const off = scope.onAppended(() => done(true));
    if (signal) offAbort = onAbort(signal, () => done(false));
  });
}

/** Options of {@link scopeItems}. */
export interface ScopeFeedOptions {
  /** A cursor of this scope, or `end`; default: from the genesis. */
  after?: string;
  /** Wait for appends once caught up. Default false. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Stop after this many command lines (gap lines are not counted). Default: no limit. */
  limit?: number;
}

/**
 * The scope as an async iterable of command and gap items (the library's `commands({scope})`).
 * The start is resolved at the call. @throws CursorError at the call for a bad `after`;
 * RangeError for a `limit` that is not a positive integer.
 */
export function scopeItems(scope: FeedScope, opts: ScopeFeedOptions = {}): AsyncIterable<ScopeItem> {
  const { follow = false, signal, limit = Infinity } = opts;
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`limit must be a positive integer, not ${limit}`);
  const reader = new ScopeReader(scope, opts.after);
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<ScopeItem, void, undefined> {
      let left = limit;
      while (left > 0 && !signal?.aborted) {
        const items = reader.behind ? reader.take(1) : [];
        for (const it of items) {
          if (!('gap' in it)) left--;
          yield it;
        }
        if (items.length === 0 && !reader.behind && (!follow || !(await waitForScope(scope, signal)))) return;
      }
    },
  };
}
