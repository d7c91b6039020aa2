/**
 * The client side of the local HTTP API: one request ({@link apiRequest}) or an NDJSON stream
 * ({@link apiStream}) to an agent on its unix socket or on its TCP listener (with the bearer
 * token). Used by the CLI (`status`, `commit`, `tail`, `show`) and the library.
 *
 * Failures are typed: {@link ApiUnavailableError} when no agent answers at the target (nothing
 * listens, the socket file is missing), {@link ApiAnswerError} when the agent answered with a
 * non-2xx status (its `reason` is one of the README's reason table).
 */
import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';

/** Where the agent is: its unix socket, or its TCP listener with the bearer token. */
export type ApiTarget = { socketPath: string } | { url: string; token: string };

/** Options of {@link apiRequest}. */
export interface ApiRequestOptions {
  /** Request body (sent as is). */
  body?: Uint8Array | string;
  /** `Content-Type` of the body. Default none (the server reads raw bytes). */
  contentType?: string;
  /** Give up when no full answer arrived within this long. Default {@link API_CLIENT_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** Default of {@link ApiRequestOptions.timeoutMs}. */
export const API_CLIENT_TIMEOUT_MS = 10_000;

/** An answer of the agent. `json` is set when the body parsed as JSON. */
export interface ApiResponse {
  status: number;
  headers: IncomingHttpHeaders;
  json?: unknown;
  text: string;
}

/** No agent answers at the target: `code` is `ENOENT` (no socket file) or `ECONNREFUSED`. */
export class ApiUnavailableError extends Error {
  override readonly name = 'ApiUnavailableError';
  constructor(
    readonly code: 'ENOENT' | 'ECONNREFUSED',
    readonly target: string,
    message: string,
  ) {
    super(message);
  }
}

/** The agent answered with a non-2xx status; `reason`/`message` come from its JSON error body. */
export class ApiAnswerError extends Error {
  override readonly name = 'ApiAnswerError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** The whole `error` object of the answer (e.g. readiness `checks`), or `{}`. */
    readonly detail: Record<string, unknown> = {},
    readonly headers: IncomingHttpHeaders = {},
  ) {
    super(message);
  }
}

/** A readable name of the target for messages (`unix:<path>` or the URL). */
export function describeTarget(target: ApiTarget): string {
  return 'socketPath' in target ? `unix:${target.socketPath}` : target.url;
}

function requestOptions(target: ApiTarget, method: string, path: string, headers: http.OutgoingHttpHeaders): http.RequestOptions {
  // agent:false: one connection per request, closed after it (a CLI must not keep idle sockets).
  if ('socketPath' in target) return { socketPath: target.socketPath, method, path, headers, agent: false };
  const u = new URL(target.url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? 80 : Number(u.port),
    method,
    path,
    headers: { ...headers, authorization: `Bearer ${target.token}` },
    agent: false,
  };
}

function mapConnectError(err: unknown, target: ApiTarget): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ECONNREFUSED') {
    return new ApiUnavailableError(code, describeTarget(target), `no agent answers at ${describeTarget(target)} (${code})`);
  }
  return err;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function answerError(status: number, headers: IncomingHttpHeaders, text: string): ApiAnswerError {
  const e = (parseJson(text) as { error?: unknown } | undefined)?.error;
  if (e !== null && typeof e === 'object') {
    const d = e as Record<string, unknown>;
    const reason = typeof d.reason === 'string' ? d.reason : 'unknown';
    const message = typeof d.message === 'string' ? d.message : `HTTP ${status}`;
    return new ApiAnswerError(status, reason, message, d, headers);
  }
  return new ApiAnswerError(status, 'unknown', `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`, {}, headers);
}

/**
 * Send one request and read the whole answer.
 * @throws ApiUnavailableError when no agent listens at the target.
 * @throws ApiAnswerError on a non-2xx answer.
 * @throws Error (`code` `ETIMEDOUT`) when no full answer arrives within `timeoutMs`.
 */
export function apiRequest(target: ApiTarget, method: string, path: string, opts: ApiRequestOptions = {}): Promise<ApiResponse> {
  const timeoutMs = opts.timeoutMs ?? API_CLIENT_TIMEOUT_MS;
  const headers: http.OutgoingHttpHeaders = {};
  if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
  const body = typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : opts.body;
  if (body !== undefined) headers['content-length'] = body.byteLength;
  return new Promise<ApiResponse>((resolve, reject) => {
    const req = http.request(requestOptions(target, method, path, headers));
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`no answer from ${describeTarget(target)} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
      req.destroy(err);
    }, timeoutMs);
    const fail = (err: unknown): void => {
      clearTimeout(timer);
      reject(mapConnectError(err, target));
    };
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        if (status < 200 || status > 299) return reject(answerError(status, res.headers, text));
        const json = parseJson(text);
        resolve({ status, headers: res.headers, text, ...(json !== undefined ? { json } : {}) });
      });
    });
    req.end(body);
  });
}

/** Options of {@link apiStream}. */
export interface ApiStreamOptions {
  /** Aborting ends the iteration (without an error) and closes the connection. */
  signal?: AbortSignal;
  /** Called with the headers of a 2xx answer before its first line (e.g. `syncwire-start-cursor`). */
  onHeaders?: (headers: IncomingHttpHeaders) => void;
}

/**
 * GET `path` and yield its body line by line (NDJSON: one JSON text per line, without the
 * newline; empty lines skipped). Reading is paced by the consumer (nothing is buffered beyond
 * the socket's own buffers). Breaking out of the loop or aborting closes the connection.
 * @throws ApiUnavailableError / ApiAnswerError as {@link apiRequest}; the connection's error if
 * the agent goes away mid-stream.
 */
export async function* apiStream(target: ApiTarget, path: string, opts: ApiStreamOptions = {}): AsyncIterable<string> {
  const { signal } = opts;
  if (signal?.aborted) return;
  const req = http.request(requestOptions(target, 'GET', path, { accept: 'application/x-ndjson' }));
  const onAbort = (): void => {
    req.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      req.on('error', (err) => reject(mapConnectError(err, target)));
      req.on('response', resolve);
      req.end();
    }).catch((err: unknown) => {
      if (signal?.aborted) return null;
      throw err;
    });
    if (res === null) return;
    const status = res.statusCode ?? 0;
    res.setEncoding('utf8');
    if (status < 200 || status > 299) {
      let text = '';
      for await (const c of res) text += c as string;
      throw answerError(status, res.headers, text);
    }
    opts.onHeaders?.(res.headers);
    let rest = '';
    try {
      for await (const chunk of res) {
        rest += chunk as string;
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl).trim();
          rest = rest.slice(nl + 1);
          if (line !== '') yield line;
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    if (signal?.aborted) return;
    if (rest.trim() !== '') yield rest.trim();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    req.destroy();
  }
}
