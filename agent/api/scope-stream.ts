/**
 * `GET /v1/commands?scope=…` on a v2 agent (docs/design/v2-scopes.md §4.7): the scope's command
 * lines and gap lines as NDJSON, with v1's stream rules (api.md §Backpressure): batches of at most
 * {@link STREAM_BATCH} lines or {@link STREAM_BATCH_BYTES} per write, `'drain'` awaited, nothing
 * queued; a caught-up follower waits for the scope's appends. `limit` counts command lines only.
 */
import type { ServerResponse } from 'node:http';
import { ApiError } from './api-error.js';
import { CursorError } from './cursor.js';
import { onAbort } from './fan-out.js';
import { ScopeReader, waitForScope, type FeedScope } from './scope-feed.js';
import { STREAM_BATCH, STREAM_BATCH_BYTES, cursorApiError, drained, parseStreamQuery } from './stream-query.js';

/**
 * Answer the stream of `scope` on `res`. Validates the query and cursor before anything is
 * written; then 200 `application/x-ndjson` (with `Syncwire-Start-Cursor` when the start follows
 * a retained command). Resolves once the stream is over.
 * @throws ApiError 400 (bad query, cursor syntax), 410 `cursor_unknown`, 503 `closing`, before
 *   the head; a store failure mid-stream destroys the response and rejects (`res.headersSent`).
 */
export async function writeScopeStream(res: ServerResponse, scope: FeedScope, query: URLSearchParams, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const q = parseStreamQuery(query);
  let reader: ScopeReader;
  try {
    reader = new ScopeReader(scope, q.after);
  } catch (err) {
    throw err instanceof CursorError ? cursorApiError(err) : err;
  }
  if (opts.signal?.aborted) throw ApiError.of('closing', 'the agent is shutting down');
  const stop = new AbortController();
  const onClose = (): void => stop.abort();
  res.on('close', onClose);
  const endNow = (): void => {
    stop.abort();
    if (!res.destroyed && !res.writableEnded) res.end();
  };
  const offOuter = opts.signal ? onAbort(opts.signal, endNow) : () => {};
  try {
    const start = reader.startCursor;
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no', ...(start ? { 'Syncwire-Start-Cursor': start } : {}) });
    if (q.follow) res.setTimeout(0);
    res.flushHeaders();
    let left = q.limit ?? Infinity;
    while (!stop.signal.aborted && !opts.signal?.aborted) {
      if (left > 0 && reader.behind) {
        let chunk = '';
        let lines = 0;
        while (left > 0 && reader.behind && lines < STREAM_BATCH && chunk.length < STREAM_BATCH_BYTES) {
          for (const it of reader.take(1)) {
            chunk += JSON.stringify(it) + '\n';
            lines++;
            if (!('gap' in it)) left--;
          }
        }
        if (chunk !== '' && !res.write(chunk) && !(await drained(res, stop.signal))) break;
      } else if (!q.follow || left <= 0 || !(await waitForScope(scope, stop.signal))) {
        break;
      }
    }
    if (!res.destroyed && !res.writableEnded) res.end();
  } catch (err) {
    res.destroy(err as Error);
    throw err;
  } finally {
    res.off('close', onClose);
    offOuter();
  }
}
