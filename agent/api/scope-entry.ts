/**
 * One command of a scope as the API and the library show it (docs/design/v2-scopes.md §4.7): v1's
 * entry plus `scope` and `kind`, built from a v2 scope store or from the read-only legacy v1
 * store, and the {@link FeedScope} view of either that the feed reads.
 */
import { decodeCommand } from '../../protocol/command.js';
import { decodeHeldCommandV2 } from '../../protocol/command-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { CommandStore } from '../store/command-store.js';
import type { GapRecord, ScopeStoreReader } from '../store/scope-store-contract.js';
import { payloadJson, type CommandEntry } from './entry-json.js';
import { formatCursor } from './cursor.js';

/** `kind` of a command line: the v2 kinds, and `v1` for the read-only legacy scope (§5.5). */
export type EntryKind = 'data' | 'genesis' | 'membership' | 'v1';

/**
 * One command line: v1's entry plus `scope` (the name) and `kind`; the keys are written in §4.7's
 * order (cursor, scope, kind, id, …) by the builder below. `payload` is the genesis or membership
 * body for those kinds.
 */
export interface ScopedEntry extends CommandEntry {
  scope: string;
  kind: EntryKind;
}

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
    entry: (h) => buildEntry(h, name, KINDS[store.kindOf(h)] ?? 'data', decodeHeldCommandV2(store.scopeId, store.bytesOf(h))),
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
