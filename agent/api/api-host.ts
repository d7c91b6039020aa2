/**
 * What the local HTTP API server asks of the agent behind it. The server owns the listeners,
 * auth, limits, routing, body reading and the error shape; a host owns the answers. Kept apart
 * from the server so hosts (the agent, the library, tests) import the type without node:http's
 * server side.
 *
 * A method may throw an {@link ApiError} (answered as it says), a `StoreWriteError` (mapped by
 * reason: `disk-full` → 503 `disk_full`), or anything else (500 `internal`, detail logged only).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The agent side of the API (see module doc for the error contract). */
export interface ApiHost {
  /** `GET /v1/status`: the status snapshot (JSON-able). */
  status(): object;
  /**
   * `POST /v1/commands`: commit `payload`; resolves once the store's durability is met. `scope`
   * (the `scope` query parameter, a name or 64-hex id) is only ever given to a host with
   * {@link scopes}; such a host answers with the scope's name.
   */
  commit(payload: Uint8Array, scope?: string): Promise<{ id: Uint8Array; cursor: string; scope?: string }>;
  /**
   * `GET /v1/commands`: write the NDJSON answer to `res` (status, headers and body; the host
   * ends it, or keeps it open with `follow`). The server has already checked method and auth
   * and exempted the connection from idle timeouts. Throwing before writing anything answers
   * with the error.
   */
  streamCommands(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void;
  /** `GET /v1/commands/<id>` (`idHex`: 64 lowercase hex): the command, or null when not held. */
  showCommand(idHex: string): object | null;
  /** `GET /metrics`: the Prometheus text exposition. */
  metrics(): string;
  /** `GET /readyz`: whether the agent is ready, and each check. */
  ready(): { ok: boolean; checks: Record<string, boolean> };
  /**
   * `GET /v1/scopes` (protocol 2): `{ scopes: [...] }`. A host without it runs protocol 1: the
   * routes then refuse the `scope` parameter and this endpoint with 400 `bad_request`.
   */
  scopes?(): object;
  /**
   * `POST /v1/scopes/members` (protocol 2): commit the request body's membership changes to
   * `scope` (or the default scope) as one membership command signed by this node; resolves with
   * the command like a commit. The host parses the body (capped by the route).
   */
  changeMembers?(body: Uint8Array, scope?: string): Promise<{ id: Uint8Array; cursor: string; scope: string }>;
  /** `POST /v1/reload`: re-read the trust file; the result object (throws ApiError on a bad file). */
  reload(): Promise<object>;
}
