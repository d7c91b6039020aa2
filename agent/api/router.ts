/**
 * Matching a request to a handler: a fixed table of paths, each with its methods. An unknown
 * path answers 404 `not_found`; a known path with another method 405 `method_not_allowed` with
 * `Allow` listing the methods it has. Paths match exactly (no trailing-slash or case folding):
 * a versioned API should have one spelling per resource.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './api-error.js';

/** What a handler gets: the request, the response, the parsed URL and the path's captures. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  /** The client sent `Expect: 100-continue`: answer `100 Continue` before reading a body. */
  expectsContinue: boolean;
}

/** Serve one request (write the answer, or throw for an error answer). */
export type Handler = (ctx: RouteContext) => Promise<void> | void;

/** One path of the table: an exact string, or a pattern whose groups become `params`. */
export interface Route {
  path: string | RegExp;
  methods: Readonly<Record<string, Handler>>;
}

/** A matched request: the handler to run and the captures. */
export interface Match {
  handler: Handler;
  params: string[];
}

/**
 * Find the handler of `method` on `pathname`.
 * @throws ApiError `not_found` (no such path) or `method_not_allowed` (with `Allow`).
 */
export function matchRoute(routes: readonly Route[], method: string, pathname: string): Match {
  for (const r of routes) {
    let params: string[];
    if (typeof r.path === 'string') {
      if (r.path !== pathname) continue;
      params = [];
    } else {
      const m = r.path.exec(pathname);
      if (!m) continue;
      params = m.slice(1).map((s) => s ?? '');
    }
    const handler = Object.hasOwn(r.methods, method) ? r.methods[method] : undefined;
    if (handler) return { handler, params };
    const allow = Object.keys(r.methods).join(', ');
    throw ApiError.of('method_not_allowed', `${method} is not allowed on ${pathname} (allowed: ${allow})`, {}, { allow });
  }
  throw ApiError.of('not_found', `no such endpoint: ${pathname}`);
}

/**
 * Parse the request target. Only origin-form (`/path?query`) is served: absolute-form,
 * `*` and anything unparsable are a 400.
 * @throws ApiError `bad_request`.
 */
export function parseTarget(raw: string | undefined): URL {
  if (raw === undefined || !raw.startsWith('/') || raw.startsWith('//')) {
    throw ApiError.of('bad_request', 'the request target must be a path (origin-form)');
  }
  try {
    return new URL(raw, 'http://localhost');
  } catch {
    throw ApiError.of('bad_request', 'the request target is not a valid path');
  }
}
