/** URL helpers shared by the builders: host/port extraction, query parameters, broker node lists. */
import { SEAL_POLICIES, type SealPolicy } from '../../protocol/seal.js';
import { TransportError } from './errors.js';
import { redactUrl } from './redact-url.js';

export { redactUrl } from './redact-url.js';

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

/** The query parameter every transport URL takes for its links' sealing policy (PROTOCOL.md §7.2). */
export const SEAL_PARAM = 'seal';

/**
 * The `seal=require|prefer|off` query parameter, or `fallback` (the scheme's default: `require`
 * for MQTT and plain TCP, `prefer` for TLS and serial) when absent.
 * @throws TransportError `BadUrl` when present with any other value (the message lists the choices).
 */
export function sealParam(url: URL, fallback: SealPolicy, display: string): SealPolicy {
  const v = url.searchParams.get(SEAL_PARAM);
  if (v === null) return fallback;
  const policy = SEAL_POLICIES.find((p) => p === v);
  if (policy === undefined) throw new TransportError('BadUrl', `${display}: ${SEAL_PARAM}=${v} is not one of ${SEAL_POLICIES.join(', ')}`);
  return policy;
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

/** A URL with its broker node list: the URL names the first node, `hosts` every node in order. */
export interface MultiHostUrl {
  url: URL;
  /** Every `host:port` of a comma-separated authority (`mqtt://h1:1,h2:2/…`); one entry otherwise. */
  hosts: string[];
}

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is;

/**
 * Parse `raw`, accepting a comma-separated node list in the authority
 * (`scheme://[user:pass@]host1[:port1],host2[:port2],…/path?query`). The returned URL names the
 * first node; `hosts` lists the raw `host[:port]` of each (IPv6 in brackets). Userinfo applies to
 * every node. Validation of each node (missing host, bad port) is the builder's job.
 * @throws TransportError `BadUrl` when `raw` (with its first node) is not a URL, or a node is empty.
 */
export function parseMultiHostUrl(raw: string, display: string): MultiHostUrl {
  const m = AUTHORITY.exec(raw);
  let hosts: string[] = [];
  let single = raw;
  if (m !== null && m[2]!.includes(',')) {
    const at = m[2]!.lastIndexOf('@');
    const userinfo = at >= 0 ? m[2]!.slice(0, at + 1) : '';
    hosts = m[2]!.slice(at + 1).split(',');
    if (hosts.some((h) => h === '')) throw new TransportError('BadUrl', `${display}: empty host in the node list`);
    single = `${m[1]}${userinfo}${hosts[0]}${m[3]}`;
  }
  let url: URL;
  try {
    url = new URL(single);
  } catch (err) {
    throw new TransportError('BadUrl', `not a URL: ${display}`, { cause: err });
  }
  return { url, hosts: hosts.length > 0 ? hosts : [url.host] };
}

/**
 * Host and port of each node of a list from {@link parseMultiHostUrl}, checked like
 * {@link hostPort} for a dialer, with `defaultPort` where a node has none.
 * @throws TransportError `BadUrl` for a node without a host or with a bad port.
 */
export function hostPorts(scheme: string, hosts: readonly string[], defaultPort: number, display: string): HostPort[] {
  return hosts.map((h) => {
    let u: URL;
    try {
      u = new URL(`${scheme}//${h}`);
    } catch (err) {
      throw new TransportError('BadUrl', `${display}: bad broker node ${h}`, { cause: err });
    }
    return hostPort(u, { listen: false, defaultPort });
  });
}
