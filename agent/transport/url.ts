/** URL helpers shared by the builders: host/port extraction, query parameters, redaction. */
import { TransportError } from './errors.js';

/** Host and port of a URL; IPv6 brackets removed. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Host and port of `url`. Dialers need a port in 1..65535; listeners accept 0 (any free port)
 * and default to it. A host is always required (WHATWG URLs cannot parse `tcp://:7000`): listen
 * on every interface with `0.0.0.0` or `[::]`.
 * @throws TransportError `BadUrl` when the host or port is missing or out of range.
 */
export function hostPort(url: URL, opts: { listen: boolean; defaultPort?: number }): HostPort {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new TransportError('BadUrl', `${redactUrl(url.href)}: missing host`);
  const fallback = opts.defaultPort ?? (opts.listen ? 0 : undefined);
  if (url.port === '' && fallback === undefined) throw new TransportError('BadUrl', `${redactUrl(url.href)}: missing port`);
  const port = url.port === '' ? fallback! : Number(url.port);
  if (!Number.isInteger(port) || port < (opts.listen ? 0 : 1) || port > 65535) {
    throw new TransportError('BadUrl', `${redactUrl(url.href)}: bad port ${url.port}`);
  }
  return { host, port };
}

/**
 * A positive integer query parameter, or `fallback` when absent.
 * @throws TransportError `BadUrl` when present but not a positive integer.
 */
export function intParam(url: URL, name: string, fallback: number): number {
  const v = url.searchParams.get(name);
  if (v === null) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new TransportError('BadUrl', `${redactUrl(url.href)}: ${name}=${v} is not a positive integer`);
  return n;
}

/**
 * Reject query parameters a transport does not understand, so a typo fails loudly.
 * @throws TransportError `BadUrl`.
 */
export function assertNoQuery(url: URL, allowed: readonly string[], display: string): void {
  for (const key of url.searchParams.keys()) {
    if (!allowed.includes(key)) throw new TransportError('BadUrl', `${display}: unknown parameter ${key}`);
  }
}

/**
 * `url` with its password (and any `password=` / `token=` query parameter) replaced by `***`, for
 * logs and {@link Transport.url}. A string that does not parse is returned with anything between
 * `://` and `@` masked.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.replace(/(\/\/)[^/@]*@/, '$1***@');
  }
  if (u.password !== '') u.password = '***';
  for (const key of ['password', 'token']) if (u.searchParams.has(key)) u.searchParams.set(key, '***');
  return u.href;
}
