/**
 * The one error shape of the local HTTP API (docs: README "Local HTTP API"). Routes and hosts
 * throw an {@link ApiError}; the server turns it into
 * `{"error":{"reason":"<reason>","message":"<text>", ...extra}}` with the reason's status.
 */

/** Every reason the API answers with (snake_case, stable: clients branch on it). */
export type ApiReason =
  | 'bad_request'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'too_large'
  | 'unsupported_media_type'
  | 'cursor_unknown'
  | 'disk_full'
  | 'not_ready'
  | 'closing'
  | 'store_error'
  | 'internal'
  | 'not_implemented'
  /** A commit to the read-only scope `legacy/v1` (protocol 2, design v2-scopes.md §5.5). */
  | 'read_only'
  /** A membership change this node may not sign (not an admin of the scope, PROTOCOL.md §6.5). */
  | 'not_permitted'
  /** A commit to a bounded scope full of own commands no peer holds yet (design v2-scopes.md §11.1). */
  | 'retention_full';

/** The HTTP status of each reason (api.md's table: `not_implemented` answers a route a host does not serve). */
export const API_REASON_STATUS: Readonly<Record<ApiReason, number>> = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  too_large: 413,
  unsupported_media_type: 415,
  cursor_unknown: 410,
  disk_full: 503,
  not_ready: 503,
  closing: 503,
  store_error: 500,
  internal: 500,
  not_implemented: 501,
  read_only: 409,
  not_permitted: 403,
  retention_full: 507,
};

/** Error body fields beyond reason and message (e.g. readiness `checks`). */
export type ApiErrorExtra = Record<string, unknown>;

/**
 * A refusal the API answers with as JSON. `headers` are sent with it (e.g. `Allow`,
 * `Retry-After`, `WWW-Authenticate`); `extra` is merged into the `error` object.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly reason: ApiReason,
    message: string,
    readonly extra: ApiErrorExtra = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  /** An ApiError with the reason's usual status. */
  static of(reason: ApiReason, message: string, extra?: ApiErrorExtra, headers?: Record<string, string>): ApiError {
    return new ApiError(API_REASON_STATUS[reason], reason, message, extra, headers);
  }

  /** The JSON body: `{"error":{"reason","message",...extra}}`. */
  body(): { error: { reason: ApiReason; message: string } & ApiErrorExtra } {
    return { error: { ...this.extra, reason: this.reason, message: this.message } };
  }
}
