/**
 * GET /v1/commands as NDJSON and GET /v1/commands/<id> (api.md §Endpoints, §Backpressure).
 *
 * The stream never queues commands in memory: it reads from the store by handle, turns at most
 * one batch (≤ {@link STREAM_BATCH} lines, ≤ {@link STREAM_BATCH_BYTES}) into one write, keeps
 * writing while `res.write()` returns true, waits for `'drain'` otherwise and for the source's
 * `onAdded` when caught up. A reader that stops reading costs the socket's buffers plus one
 * batch, whatever is appended meanwhile.
 */
import type { ServerResponse } from 'node:http';
import { fromHex } from '../../protocol/keys.js';
import type { CommandStore } from '../store/command-store.js';
import { ApiError } from './api-error.js';
import { commandEntry, resolveAfter, waitForAdded, type CommandEntry, type FeedSource } from './command-feed.js';
import { CursorError, formatCursor } from './cursor.js';
import { onAbort } from './fan-out.js';
import { bad, cursorApiError, drained, parseStreamQuery, STREAM_BATCH, STREAM_BATCH_BYTES } from './stream-query.js';

export { MAX_STREAM_LIMIT, STREAM_BATCH, STREAM_BATCH_BYTES, cursorApiError, parseStreamQuery, type StreamQuery } from './stream-query.js';

/** Options of {@link writeCommandStream}. */
export interface StreamOptions {
  /** Ends the stream cleanly (the response is ended), e.g. when the agent shuts down. */
  signal?: AbortSignal;
}

/**
 * Answer GET /v1/commands on `res`: validate `query` (before anything is written), then
 * `200 application/x-ndjson` (`Cache-Control: no-store`, `X-Accel-Buffering: no`, headers
 * flushed at once so a follower knows it is connected), then one {@link CommandEntry} JSON per
 * line from the resolved start. Without follow the response ends after the last command held
 * (or `limit` lines); with follow it stays open (the socket's inactivity timeout is turned off
 * for it) until the client closes, `opts.signal` aborts or the store fails. Resolves once the
 * stream is over, every listener removed.
 * @throws ApiError 400 (bad query or cursor syntax), 410 `cursor_unknown` or 503 `closing` (the
 *   signal already aborted), before the head is written. A store failure mid-stream destroys the response (the client sees a truncated
 *   chunked body) and rejects with that error with `res.headersSent` true: log it, answer nothing.
 */
export async function writeCommandStream(res: ServerResponse, source: FeedSource, query: URLSearchParams, opts: StreamOptions = {}): Promise<void> {
  const q = parseStreamQuery(query);
  let next: number;
  try {
    next = resolveAfter(source.store, q.after);
  } catch (err) {
    throw err instanceof CursorError ? cursorApiError(err) : err;
  }
  if (opts.signal?.aborted) throw ApiError.of('closing', 'the agent is shutting down');
  const stop = new AbortController();
  const onClose = (): void => stop.abort();
  res.on('close', onClose);
  // Through the signal's fan-out: every stream waits on the agent's one closing signal. The body
  // is ended at once, not on the loop's next turn, so a server that destroys its connections
  // right after aborting still sends a complete body.
  const endNow = (): void => {
    stop.abort();
    if (!res.destroyed && !res.writableEnded) res.end();
  };
  const offOuter = opts.signal ? onAbort(opts.signal, endNow) : () => {};
  try {
    // Where this stream starts, as a cursor: a client that asked for `after=end` resumes from it
    // after a reconnect, so commands added while it was away are not skipped.
    const start = next > 0 ? { 'Syncwire-Start-Cursor': formatCursor(next - 1, source.store.idOf(next - 1)) } : {};
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no', ...start });
    if (q.follow) res.setTimeout(0);
    res.flushHeaders();
    let left = q.limit ?? Infinity;
    while (!stop.signal.aborted && !opts.signal?.aborted) {
      if (left > 0 && next < source.store.size) {
        let chunk = '';
        const end = Math.min(source.store.size, next + STREAM_BATCH, next + left);
        while (next < end && chunk.length < STREAM_BATCH_BYTES) {
          chunk += JSON.stringify(commandEntry(source.store, next++)) + '\n';
          left--;
        }
        if (!res.write(chunk) && !(await drained(res, stop.signal))) break;
      } else if (!q.follow || left <= 0 || !(await waitForAdded(source, stop.signal))) {
        break;
      }
    }
    // Done, or told to stop: end the body cleanly. A client that closed has nothing to end.
    if (!res.destroyed && !res.writableEnded) res.end();
  } catch (err) {
    res.destroy(err as Error);
    throw err;
  } finally {
    res.off('close', onClose);
    offOuter();
  }
}

/**
 * GET /v1/commands/<id>: the entry of the command `idHex` (64 hex, either case), or null when
 * the store does not hold it (the caller answers 404 `not_found`).
 * @throws ApiError 400 `bad_request` when `idHex` is not 64 hex characters.
 */
export function showCommandJson(store: CommandStore, idHex: string): CommandEntry | null {
  if (!/^[0-9a-fA-F]{64}$/.test(idHex)) throw bad(`not a command id (64 hex): ${JSON.stringify(idHex.slice(0, 80))}`);
  const handle = store.indexOf(fromHex(idHex));
  return handle < 0 ? null : commandEntry(store, handle);
}
