/**
 * Writing answers: JSON bodies, the one error shape, and the mapping of whatever a route or a
 * host threw to an {@link ApiError} (a store refusal by its reason; anything unexpected to a
 * generic 500 whose detail goes to the log only, never to the client).
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../node/log.js';
import { StoreWriteError } from '../store/write-error.js';
import { RetentionFullError } from '../sync/retention-full-error.js';
import { EngineClosedError } from '../sync/engine-errors.js';
import { TooLargeError } from '../../protocol/errors.js';
import { ApiError } from './api-error.js';

/** Seconds a client is told to wait after a full disk (`Retry-After`). */
export const DISK_FULL_RETRY_AFTER_S = 30;

/** Send `body` as JSON with `status` (and `headers`). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Map anything thrown while serving a request to the answer it gets. */
export function toApiError(err: unknown, log: Logger, what: string): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreWriteError) {
    if (err.reason === 'disk-full') {
      return ApiError.of('disk_full', err.message, {}, { 'retry-after': String(DISK_FULL_RETRY_AFTER_S) });
    }
    if (err.reason === 'closed') return ApiError.of('closing', 'the agent is shutting down');
    log.error({ err: err.message, code: err.code }, `${what}: store write failed`);
    return ApiError.of('store_error', 'the store could not write the command; it was not stored');
  }
  if (err instanceof TooLargeError) return ApiError.of('too_large', err.message);
  if (err instanceof RetentionFullError) return ApiError.of('retention_full', err.message, { scope: err.scope, unacknowledged: err.unacknowledged, bound: err.bound });
  if (err instanceof EngineClosedError) return ApiError.of('closing', 'the agent is shutting down');
  log.error({ err: err instanceof Error ? (err.stack ?? err.message) : String(err) }, `${what}: internal error`);
  return ApiError.of('internal', 'internal error (details are in the agent log)');
}

/**
 * Answer with `err`. When the answer has already started (a stream), the connection is cut
 * instead: there is no way to put an error into a half-sent body.
 */
export function sendError(res: ServerResponse, err: ApiError, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, err.body(), { ...err.headers, ...(close ? { connection: 'close' } : {}) });
}
