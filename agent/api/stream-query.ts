/**
 * What the two `GET /v1/commands` streams (protocol 2's scope stream, agent/api/scope-stream.ts,
 * and protocol 1's) share: the query's validation, the answer to a refused cursor, the batch
 * bounds of one write, and the wait for `'drain'` (api.md §Backpressure).
 */
import type { ServerResponse } from 'node:http';
import { ApiError } from './api-error.js';
import type { CursorError } from './cursor.js';

/** Most lines joined into one `res.write`. */
export const STREAM_BATCH = 256;
/** A batch ends early once it holds this many characters (large payloads; entries are ASCII except `json`). */
export const STREAM_BATCH_BYTES = 64 * 1024;
/** Largest `limit` accepted. */
export const MAX_STREAM_LIMIT = 1_000_000;

/** A validated GET /v1/commands query. */
export interface StreamQuery {
  /** A cursor or `end`; absent: from the first command. */
  after?: string;
  follow: boolean;
  /** Lines to write at most (never with follow); absent: all. */
  limit?: number;
}

/** A 400 `bad_request` with `message`. */
export const bad = (message: string): ApiError => ApiError.of('bad_request', message);

/** The one value of `name`, or undefined. @throws ApiError 400 when it is given twice. */
function single(query: URLSearchParams, name: string): string | undefined {
  const all = query.getAll(name);
  if (all.length > 1) throw bad(`${name} given ${all.length} times`);
  return all[0];
}

/**
 * Validate the query: `after` (cursor syntax checked later, against the store), `follow`
 * exactly `true` or `false` (default false), `limit` a positive decimal ≤ 1e6 and not together
 * with `follow=true` (api.md: limit "not with follow"). Unknown parameters are ignored.
 * @throws ApiError 400 `bad_request`.
 */
export function parseStreamQuery(query: URLSearchParams): StreamQuery {
  const after = single(query, 'after');
  const followText = single(query, 'follow');
  const limitText = single(query, 'limit');
  if (followText !== undefined && followText !== 'true' && followText !== 'false') throw bad(`follow must be true or false, not ${JSON.stringify(followText.slice(0, 20))}`);
  const follow = followText === 'true';
  const out: StreamQuery = { follow };
  if (after !== undefined) out.after = after;
  if (limitText !== undefined) {
    const limit = /^[1-9][0-9]{0,6}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit <= MAX_STREAM_LIMIT)) throw bad(`limit must be an integer from 1 to ${MAX_STREAM_LIMIT}, not ${JSON.stringify(limitText.slice(0, 20))}`);
    if (follow) throw bad('limit cannot be combined with follow=true');
    out.limit = limit;
  }
  return out;
}

/** The API's answer to a refused cursor: 400 for bad syntax, 410 for a cursor this store does not know. */
export function cursorApiError(err: CursorError): ApiError {
  return err.reason === 'cursor_unknown' ? ApiError.of('cursor_unknown', err.message) : bad(err.message);
}

/** Resolves on `'drain'` (true) or when `stop` aborts (false). */
export function drained(res: ServerResponse, stop: AbortSignal): Promise<boolean> {
  if (stop.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      res.off('drain', onDrain);
      stop.removeEventListener('abort', onStop);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onStop = (): void => done(false);
    res.on('drain', onDrain);
    stop.addEventListener('abort', onStop, { once: true });
  });
}
