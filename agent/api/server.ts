/**
 * The agent's local HTTP API server (api.md; README "Local HTTP API"): HTTP/1.1 on the agent's
 * unix socket (mode 0600 from the moment it can be reached; the file mode is the
 * authentication) and optionally on a TCP address, where every request but `GET /healthz`
 * needs `Authorization: Bearer <token>`.
 *
 * Limits per listener: {@link API_LIMITS}. Bodies are capped at the largest payload a command
 * can carry. A malformed request gets a JSON 400 or a closed socket; an unexpected error a
 * generic 500 (detail in the log). Follow streams are exempt from idle timeouts.
 */
import { unlinkSync } from 'node:fs';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '../node/log.js';
import { listenPrivate } from '../node/private-socket.js';
import { ApiError } from './api-error.js';
import type { ApiHost } from './api-host.js';
import { BearerAuth } from './auth.js';
import { BodyAbortedError } from './body.js';
import { sendError, toApiError } from './respond.js';
import { matchRoute, parseTarget, type Route } from './router.js';
import { apiRoutes } from './routes.js';

/** Limits of each listener (api.md §Listeners). */
export interface ApiLimits {
  /** Connections served at once; more are refused (closed at accept). Default 32. */
  maxConnections: number;
  /** Time to receive a request's headers. Default 10 s. */
  headersTimeoutMs: number;
  /** Time to receive a whole request (headers and body; not the answer). Default 30 s. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. Default 30 s. */
  keepAliveTimeoutMs: number;
  /** How often the two timeouts above are checked. Default 1 s. */
  checkIntervalMs: number;
  /** `close()` waits this long for answers in flight before cutting their connections. Default 2 s. */
  closeGraceMs: number;
}

/** Defaults of {@link ApiLimits}. */
export const API_LIMITS: Readonly<ApiLimits> = Object.freeze({
  maxConnections: 32,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 30_000,
  checkIntervalMs: 1_000,
  closeGraceMs: 2_000,
});

/** Options of {@link startApiServer}. */
export interface ApiServerOptions {
  /** The unix socket to serve (a stale file there is removed first); '' for none. */
  socketPath: string;
  /** A TCP listener too: `port` 0 picks a free one; `token` (≥ 16 characters) guards it. */
  tcp?: { host: string; port: number; token: string };
  /** Where failures are logged. Default silent. */
  logger?: Logger;
  /** Overrides of {@link API_LIMITS} (tests). */
  limits?: Partial<ApiLimits>;
}

/** A running API server. */
export interface ApiServer {
  readonly socketPath: string;
  /** The TCP port listened on, or null without a TCP listener. */
  readonly tcpPort: number | null;
  /** Stop listening, cut follow streams, finish or cut answers in flight; remove the socket file. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start the API server for `host`.
 * @throws the listen error (socket path not writable, TCP address in use) or RangeError for a
 *   short token; nothing is left listening then.
 */
export async function startApiServer(opts: ApiServerOptions, host: ApiHost): Promise<ApiServer> {
  const limits: ApiLimits = { ...API_LIMITS, ...opts.limits };
  const log = opts.logger ?? silentLogger;
  const auth = opts.tcp ? new BearerAuth(opts.tcp.token) : null;
  const streams = new Set<ServerResponse>();
  /** Sockets with an answer under way: bytes of an error answer must not be mixed into it. */
  const busy = new WeakSet<Duplex>();
  const state = { closing: false };
  const routes: Route[] = apiRoutes(host, {
    onStream: ({ req, res }) => {
      // The answer may last for days: no idle timeout on this connection (requestTimeout
      // stopped counting when the request was complete).
      req.socket.setTimeout(0);
      streams.add(res);
      res.once('close', () => streams.delete(res));
    },
  });
  const make = (guard: BearerAuth | null): http.Server => {
    const server = http.createServer({
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
      // Node's own refusal of a missing Host is a bare 400; serve() answers it in JSON instead.
      requireHostHeader: false,
    });
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    server.maxHeadersCount = 64;
    server.maxConnections = limits.maxConnections;
    const serveIt = (req: IncomingMessage, res: ServerResponse, wantsContinue: boolean): void => {
      busy.add(req.socket);
      res.once('close', () => busy.delete(req.socket));
      void serve(req, res, { routes, guard, state, log, wantsContinue });
    };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => serveIt(req, res, false));
    // `Expect: 100-continue` (curl sends it above 1 KiB): refuse before the client sends the body.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => serveIt(req, res, true));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => onClientError(err, socket, busy.has(socket), log));
    return server;
  };

  const servers: http.Server[] = [];
  let tcpPort: number | null = null;
  try {
    if (opts.socketPath !== '') {
      try {
        // The caller holds the data directory's lock: no live agent owns a socket file here.
        unlinkSync(opts.socketPath);
      } catch {
        /* none */
      }
      const s = make(null);
      servers.push(s);
      await listenPrivate(s, opts.socketPath);
    }
    if (opts.tcp) {
      const s = make(auth);
      servers.push(s);
      const { host: h, port } = opts.tcp;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen({ host: h, port }, () => {
          s.off('error', reject);
          resolve();
        });
      });
      tcpPort = (s.address() as { port: number }).port;
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  // Like the status socket before it: the API never keeps a process alive by itself.
  for (const s of servers) s.unref();

  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    state.closing = true;
    const done = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (opts.socketPath !== '') {
      try {
        unlinkSync(opts.socketPath);
      } catch {
        /* gone */
      }
    }
    for (const r of streams) r.destroy();
    for (const s of servers) s.closeIdleConnections();
    const grace = setTimeout(() => {
      for (const s of servers) s.closeAllConnections();
    }, limits.closeGraceMs);
    grace.unref();
    await done;
    clearTimeout(grace);
  };
  return { socketPath: opts.socketPath, tcpPort, close: () => (closing ??= close()) };
}

interface ServeContext {
  routes: readonly Route[];
  guard: BearerAuth | null;
  state: { closing: boolean };
  log: Logger;
  wantsContinue: boolean;
}

/** Serve one request; never rejects. */
async function serve(req: IncomingMessage, res: ServerResponse, c: ServeContext): Promise<void> {
  let what = `${req.method ?? '?'} ?`;
  try {
    if (c.state.closing) throw ApiError.of('closing', 'the agent is shutting down');
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
    if (req.headers.host === undefined && req.httpVersion === '1.1') throw ApiError.of('bad_request', 'an HTTP/1.1 request needs a Host header');
    const url = parseTarget(req.url);
    what = `${req.method ?? '?'} ${url.pathname}`;
    if (c.guard && url.pathname !== '/healthz' && !c.guard.allows(req)) {
      throw ApiError.of('unauthorized', 'a valid "Authorization: Bearer <token>" header is required', {}, { 'www-authenticate': 'Bearer' });
    }
    const m = matchRoute(c.routes, req.method ?? '', url.pathname);
    await m.handler({ req, res, url, params: m.params, expectsContinue: c.wantsContinue });
  } catch (err) {
    if (err instanceof BodyAbortedError) {
      res.destroy();
      return;
    }
    const e = toApiError(err, c.log, what);
    // A body we did not read to its end is not read further: answer, then close.
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    sendError(res, e, c.state.closing || (hasBody && !req.readableEnded));
  }
}

const BAD_REQUEST = JSON.stringify({ error: { reason: 'bad_request', message: 'malformed HTTP request' } }) + '\n';

/** Bytes on a connection that are not HTTP: a JSON 400 when the socket can take it, then close. */
function onClientError(err: NodeJS.ErrnoException, socket: Duplex, answering: boolean, log: Logger): void {
  log.debug({ err: err.message, code: err.code }, 'API client error');
  // A reset or a timed-out request has nobody (or no point) to answer; an answer under way
  // cannot be interrupted by another.
  if (err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || !socket.writable || answering) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(BAD_REQUEST)}\r\nconnection: close\r\n\r\n${BAD_REQUEST}`,
  );
}
