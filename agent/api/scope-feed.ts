/**
 * A v2 scope read as a feed (docs/design/v2-scopes.md §4.7): every retained command of one scope
 * in handle order (a causal order) as a {@link ScopedEntry} with a cursor, interleaved with gap
 * lines ({@link GapEntry}): a stored gap marker just before the command it precedes (`horizon`),
 * and a run of pruned handles the reader's position crossed (`pruned`, never stored). Gap lines
 * carry no cursor, so a reader resuming from the command before a gap sees it again: gaps at
 * least once, commands exactly once. Nothing is queued: entries are built from the store by
 * handle as the consumer asks, and a caught-up follower waits on the scope's `onAppended`.
 */
import { isUtf8 } from 'node:buffer';
import { decodeCommand } from '../../protocol/command.js';
import { decodeCommandV2 } from '../../protocol/command-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { CommandStore } from '../store/command-store.js';
import type { GapRecord, ScopeStoreReader } from '../store/scope-store-contract.js';
import { CursorError, formatCursor, parseCursor } from './cursor.js';
import { onAbort } from './fan-out.js';

/** `kind` of a command line: the v2 kinds, and `v1` for the read-only legacy scope (§5.5). */
export type EntryKind = 'data' | 'genesis' | 'membership' | 'v1';

/** One command line: v1's entry plus `scope` (the name) and `kind` (key order as §4.7 writes it). */
export interface ScopedEntry {
  cursor: string;
  scope: string;
  kind: EntryKind;
  /** Command id, 64 lowercase hex. */
  id: string;
  /** Author fingerprint, 16 lowercase hex. */
  author: string;
  seq: number;
  parents: string[];
  /** Payload, base64 (the genesis or membership body for those kinds). */
  payload: string;
  /** The payload parsed as JSON, when it is valid UTF-8 that parses. */
  json?: unknown;
}

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

/** One scope as the feed reads it (a v2 scope store, or the legacy v1 store). */
export interface FeedScope {
  readonly name: string;
  /** One past the highest handle assigned. */
  readonly size: number;
  isRetained(h: number): boolean;
  idOf(h: number): Uint8Array;
  entry(h: number): ScopedEntry;
  /** Stored gap markers just before `h`, oldest first. */
  gapsBefore(h: number): GapRecord[][];
  /** Called after commands were appended to this scope; returns the unsubscribe. */
  onAppended(listener: () => void): () => void;
}

const KINDS: readonly EntryKind[] = ['data', 'genesis', 'membership'];
const JSON_START = new Uint8Array(256);
for (const c of '{["-0123456789tfn') JSON_START[c.charCodeAt(0)] = 1;

/** The payload as JSON, or undefined (same rule as the v1 feed: UTF-8 that parses, no U+FFFD repair). */
function payloadJson(p: Uint8Array): unknown {
  let i = 0;
  while (i < p.length && (p[i] === 0x20 || p[i] === 0x0a || p[i] === 0x0d || p[i] === 0x09)) i++;
  if (i === p.length || !JSON_START[p[i]!] || !isUtf8(p)) return undefined;
  try {
    return JSON.parse(Buffer.from(p.buffer, p.byteOffset, p.length).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function buildEntry(handle: number, scope: string, kind: EntryKind, c: { id: Uint8Array; author: Uint8Array; seq: number; parents: Uint8Array[]; payload: Uint8Array }): ScopedEntry {
  const id = toHex(c.id);
  const e: ScopedEntry = {
    cursor: formatCursor(handle, id), scope, kind, id, author: toHex(c.author), seq: c.seq,
    parents: c.parents.map(toHex), payload: Buffer.from(c.payload.buffer, c.payload.byteOffset, c.payload.length).toString('base64'),
  };
  const json = kind === 'data' || kind === 'v1' ? payloadJson(c.payload) : undefined;
  if (json !== undefined) e.json = json;
  return e;
}

/** A v2 scope store as a {@link FeedScope}. */
export function v2FeedScope(name: string, store: ScopeStoreReader, onAppended: FeedScope['onAppended']): FeedScope {
  return {
    name,
    get size() { return store.size; },
    isRetained: (h) => store.isRetained(h),
    idOf: (h) => store.idOf(h),
    entry: (h) => buildEntry(h, name, KINDS[store.kindOf(h)] ?? 'data', decodeCommandV2(store.scopeId, store.bytesOf(h))),
    gapsBefore: (h) => store.gapsBefore(h),
    onAppended,
  };
}

/** The read-only legacy v1 store as a {@link FeedScope} (`kind: "v1"`, v1 ids and cursors; nothing is ever appended). */
export function legacyFeedScope(name: string, store: CommandStore): FeedScope {
  return {
    name,
    get size() { return store.size; },
    isRetained: (h) => h >= 0 && h < store.size,
    idOf: (h) => store.idOf(h),
    entry: (h) => buildEntry(h, name, 'v1', decodeCommand(store.bytesOf(h))),
    gapsBefore: () => [],
    onAppended: () => () => {},
  };
}

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
