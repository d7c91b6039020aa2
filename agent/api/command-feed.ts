/**
 * Reading the command graph as a feed (api.md GET /v1/commands): every command in the store's
 * log order (a causal order: parents always come first), each as a {@link CommandEntry} with a
 * cursor to resume after it. The feed reads from the store by handle and never queues commands:
 * when it has caught up it waits for the source's `onAdded` hook, so a slow consumer costs
 * nothing but the one entry it has not taken yet.
 */
import { decodeCommand } from '../../protocol/command.js';
import { toHex } from '../../protocol/keys.js';
import type { CommandStore } from '../store/command-store.js';
import { CursorError, formatCursor, parseCursor } from './cursor.js';
import { payloadJson, type CommandEntry } from './entry-json.js';
import { onAbort } from './fan-out.js';

export { payloadJson, type CommandEntry } from './entry-json.js';

/** Re-exported: the way to adapt an EventEmitter to {@link FeedSource.onAdded} without its 10-listener warning. */
export { fanOut } from './fan-out.js';

/**
 * Where a feed reads: the store, and a hook called after commands were added to it (the agent
 * adapts the engine's `commands` event). `onAdded` returns the function that unsubscribes.
 */
export interface FeedSource {
  store: CommandStore;
  onAdded(listener: () => void): () => void;
}

/** The cursor of the command `id`, which `store` holds (e.g. just committed). */
export function cursorOf(store: CommandStore, id: Uint8Array): string {
  return formatCursor(store.indexOf(id), id);
}

/**
 * The entry of the command at `handle` (decoded from the store's exact bytes).
 * @throws whatever the store's `bytesOf` throws (closed store, failed read); RangeError on a
 *   handle outside 0..size-1.
 */
export function commandEntry(store: CommandStore, handle: number): CommandEntry {
  if (!Number.isInteger(handle) || handle < 0 || handle >= store.size) throw new RangeError(`no command at handle ${handle}`);
  const cmd = decodeCommand(store.bytesOf(handle));
  const id = toHex(cmd.id);
  const entry: CommandEntry = {
    cursor: formatCursor(handle, id),
    id,
    author: toHex(cmd.author),
    seq: cmd.seq,
    parents: cmd.parents.map(toHex),
    payload: Buffer.from(cmd.payload.buffer, cmd.payload.byteOffset, cmd.payload.length).toString('base64'),
  };
  const json = payloadJson(cmd.payload);
  if (json !== undefined) entry.json = json;
  return entry;
}

/**
 * The first handle a feed with `after` emits: 0 without `after`, the store's size for `end`
 * (only commands added from now on), else the handle after the cursor's.
 * @throws CursorError `cursor_syntax` for a malformed cursor, `cursor_unknown` when the store
 *   holds no command at the cursor's handle whose id starts with its prefix.
 */
export function resolveAfter(store: CommandStore, after?: string): number {
  if (after === undefined) return 0;
  if (after === 'end') return store.size;
  const { handle, idPrefix } = parseCursor(after);
  if (handle >= store.size || !toHex(store.idOf(handle)).startsWith(idPrefix)) {
    throw new CursorError('cursor_unknown', `this store holds no command ${handle} with id ${idPrefix}…: it was never here, or the log was rewritten (read again from the start)`);
  }
  return handle + 1;
}

/**
 * Wait until the source reports added commands (resolves `true`) or `signal` aborts (resolves
 * `false`; never rejects). Subscribes only for the wait and always unsubscribes.
 */
export function waitForAdded(source: FeedSource, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    let offAbort = (): void => {};
    let settled = false;
    const done = (added: boolean): void => {
      if (settled) return; // an add and the abort in one turn: the first one counts
      settled = true;
      unsubscribe();
      offAbort();
      resolve(added);
    };
    const unsubscribe = source.onAdded(() => done(true));
    if (signal) offAbort = onAbort(signal, () => done(false));
  });
}

/** Options of {@link commandsFrom}. */
export interface FeedOptions {
  /** A cursor, or `end`; default: from the first command. */
  after?: string;
  /** Keep waiting for new commands once caught up. Default false: end after the last one held. */
  follow?: boolean;
  /** Ends the iteration (cleanly: no rejection) and releases the subscription. */
  signal?: AbortSignal;
  /** Stop after this many entries. Default: no limit. */
  limit?: number;
}

/**
 * The commands of `source` as an async iterable for library users. The start is resolved at
 * call time, so `after: 'end'` means "added after this call" and a bad cursor throws here.
 * Entries are built one at a time as the consumer asks (nothing is read ahead); with `follow`
 * the iteration waits on `onAdded` when caught up, subscribed only while it waits. Abort ends
 * it with `done`; breaking out of `for await` ends it too.
 * @throws CursorError (synchronously) for a malformed or unknown `after`; RangeError for a
 *   `limit` that is not a positive integer.
 */
export function commandsFrom(source: FeedSource, opts: FeedOptions = {}): AsyncIterable<CommandEntry> {
  const { follow = false, signal, limit = Infinity } = opts;
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`limit must be a positive integer, not ${limit}`);
  const start = resolveAfter(source.store, opts.after);
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<CommandEntry, void, undefined> {
      let next = start;
      let emitted = 0;
      while (emitted < limit && !signal?.aborted) {
        if (next < source.store.size) {
          emitted++;
          yield commandEntry(source.store, next++);
        } else if (!follow || !(await waitForAdded(source, signal))) {
          return;
        }
      }
    },
  };
}
