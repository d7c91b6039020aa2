/**
 * The endpoints of the local HTTP API (api.md; README "Local HTTP API"), each a thin adapter
 * from HTTP to the {@link ApiHost}: status codes, content types and the body rules live here,
 * the answers in the host.
 */
import { toHex } from '../../protocol/keys.js';
import { ApiError } from './api-error.js';
import type { ApiHost } from './api-host.js';
import { checkPayload, payloadKind, readBody } from './body.js';
import { MAX_PAYLOAD_BYTES } from './body-limit.js';
import { sendJson } from './respond.js';

/** Largest body of `POST /v1/scopes/members`: 16 changes with room for whitespace. */
export const MEMBERS_BODY_BYTES = 4096;
import type { Route, RouteContext } from './router.js';

/** Content-Type of `GET /metrics` (Prometheus text exposition format 0.0.4). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A command id in a path: 64 hex digits (either case; answered in lower case). */
const COMMAND_PATH = /^\/v1\/commands\/([^/]*)$/;

/** Why a protocol-1 agent refuses `scope` and `/v1/scopes` (contract: 400 `bad_request`). */
export const NO_SCOPES_TEXT = 'this agent runs protocol 1: no scopes';

/** The `scope` query parameter, refused by a host without scopes. @throws ApiError 400 */
function scopeParam(host: ApiHost, query: URLSearchParams): string | undefined {
  const all = query.getAll('scope');
  if (all.length === 0) return undefined;
  if (!host.scopes) throw ApiError.of('bad_request', NO_SCOPES_TEXT);
  if (all.length > 1) throw ApiError.of('bad_request', `scope given ${all.length} times`);
  return all[0];
}

/** Options of {@link apiRoutes}. */
export interface RoutesOptions {
  /** Called for a follow-like request: exempt its connection from idle timeouts. */
  onStream(ctx: RouteContext): void;
}

/** The route table served by `startApiServer` for `host`. */
export function apiRoutes(host: ApiHost, opts: RoutesOptions): Route[] {
  return [
    { path: '/healthz', methods: { GET: ({ res }) => sendJson(res, 200, { ok: true }) } },
    {
      path: '/readyz',
      methods: {
        GET: ({ res }) => {
          const r = host.ready();
          if (r.ok) return sendJson(res, 200, { ok: true, checks: r.checks });
          const failing = Object.keys(r.checks).filter((k) => !r.checks[k]);
          throw ApiError.of('not_ready', `not ready: ${failing.join(', ') || 'unknown'}`, { checks: r.checks });
        },
      },
    },
    { path: '/v1/status', methods: { GET: ({ res }) => sendJson(res, 200, host.status()) } },
    {
      path: '/v1/commands',
      methods: {
        GET: (ctx) => {
          scopeParam(host, ctx.url.searchParams);
          opts.onStream(ctx);
          host.streamCommands(ctx.req, ctx.res, ctx.url.searchParams);
        },
        POST: async ({ req, res, url, expectsContinue }) => {
          const scope = scopeParam(host, url.searchParams);
          const kind = payloadKind(req.headers['content-type']);
          const payload = checkPayload(await readBody(req, MAX_PAYLOAD_BYTES, expectsContinue ? res : undefined), kind);
          const done = scope === undefined ? await host.commit(payload) : await host.commit(payload, scope);
          sendJson(res, 201, { id: toHex(done.id), cursor: done.cursor, ...(done.scope === undefined ? {} : { scope: done.scope }) });
        },
      },
    },
    {
      path: '/v1/scopes',
      methods: {
        GET: ({ res }) => {
          if (!host.scopes) throw ApiError.of('bad_request', NO_SCOPES_TEXT);
          sendJson(res, 200, host.scopes());
        },
      },
    },
    {
      path: '/v1/scopes/members',
      methods: {
        POST: async ({ req, res, url, expectsContinue }) => {
          if (!host.changeMembers) throw ApiError.of('bad_request', NO_SCOPES_TEXT);
          const scope = scopeParam(host, url.searchParams);
          if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw ApiError.of('unsupported_media_type', 'a membership change is JSON: Content-Type: application/json');
          const body = await readBody(req, MEMBERS_BODY_BYTES, expectsContinue ? res : undefined);
          const done = await host.changeMembers(body, scope);
          sendJson(res, 201, { id: toHex(done.id), cursor: done.cursor, scope: done.scope });
        },
      },
    },
    {
      path: COMMAND_PATH,
      methods: {
        GET: ({ res, params }) => {
          const id = params[0] ?? '';
          if (!/^[0-9a-fA-F]{64}$/.test(id)) throw ApiError.of('bad_request', 'a command id is 64 hex digits');
          const cmd = host.showCommand(id.toLowerCase());
          if (cmd === null) throw ApiError.of('not_found', `no command ${id.toLowerCase()} in this store`);
          sendJson(res, 200, cmd);
        },
      },
    },
    {
      path: '/metrics',
      methods: {
        GET: ({ res }) => {
          const text = host.metrics();
          res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store' });
          res.end(text);
        },
      },
    },
    {
      path: '/v1/reload',
      methods: {
        POST: async ({ req, res, expectsContinue }) => {
          // No body is expected; one is read (capped) and ignored so the connection stays usable.
          await readBody(req, MAX_PAYLOAD_BYTES, expectsContinue ? res : undefined);
          sendJson(res, 200, await host.reload());
        },
      },
    },
  ];
}
