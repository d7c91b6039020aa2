/**
 * The listener transport shared by TCP and TLS: one link per accepted socket, with admission
 * control so that a flood of idle or hostile connections cannot keep a trusted peer out.
 */
import type { Server, Socket } from 'node:net';
import type { Link } from '../link.js';
import { TransportError } from './errors.js';
import { LinkSource } from './link-source.js';
import type { OpenedTransport, ResolvedOptions } from './options.js';
import { PreAuthPool, type PreAuthEntry, type PreAuthExit } from './preauth-pool.js';
import { RefusalLog } from './refusal-log.js';
import type { StreamLink } from './stream-link.js';
import { intParam, type HostPort } from './url.js';

/** URL query parameters of `tcp-listen:` and `tls-listen:` (each a positive integer). */
export const LISTENER_PARAMS = ['max_conns', 'max_preauth', 'preauth_per_addr', 'handshake_ms'] as const;

/** `o` with the listener bounds of `url`'s query (see {@link LISTENER_PARAMS}) applied. @throws TransportError `BadUrl`. */
export function listenerOptions(url: URL, o: ResolvedOptions): ResolvedOptions {
  return {
    ...o,
    maxConnections: intParam(url, 'max_conns', o.maxConnections),
    maxPreAuth: intParam(url, 'max_preauth', o.maxPreAuth),
    maxPreAuthPerAddress: intParam(url, 'preauth_per_addr', o.maxPreAuthPerAddress),
    handshakeTimeoutMs: intParam(url, 'handshake_ms', o.handshakeTimeoutMs),
  };
}

/** A pre-auth pool entry: the raw socket, and its link once there is one (TLS: after the TLS handshake). */
interface Pending extends PreAuthEntry {
  readonly raw: Socket;
  link: StreamLink | null;
}

/**
 * Listens on `addr` and turns each accepted socket into a link via `makeLink`.
 *
 * Admission (all bounds from {@link ResolvedOptions}; defaults in `options.ts`):
 * - A new connection joins the pre-authentication pool (`maxPreAuth`, `maxPreAuthPerAddress`)
 *   and is never refused for lack of room there: it evicts the oldest connection of its address,
 *   or of the pool, that has not sent a complete frame yet, else the oldest one.
 * - A connection whose peer has not authenticated (the engine calls `link.markAuthenticated()`)
 *   within `handshakeTimeoutMs` is closed. A TLS handshake counts against the same deadline.
 * - Authenticated links count against `maxConnections`; a peer that authenticates while that
 *   many are up is closed (`TooManyLinks`). Authenticated links are never evicted.
 * - As a last bound on file descriptors, Node refuses sockets at accept beyond
 *   `maxConnections + 4 × maxPreAuth` (evicted sockets may take a tick to close).
 * - Refused, evicted, timed-out and failed-TLS connections are logged as one summary line (and
 *   one `warn` event) per `refusalLogIntervalMs`, never one line per connection.
 */
export class StreamListenerTransport extends LinkSource implements OpenedTransport {
  private readonly links = new Set<Link>();
  private readonly authed = new Set<Link>();
  private readonly byPeer = new Map<string, Pending>();
  private readonly pool: PreAuthPool;
  /** Refusal counters; `totals` holds the counts since start. */
  readonly refusals: RefusalLog;
  private closed = false;
  private port: number | undefined;

  /**
   * @param connectionEvent `connection` for plain TCP, `secureConnection` for TLS (after the handshake).
   */
  constructor(
    readonly url: string,
    private readonly server: Server,
    private readonly connectionEvent: 'connection' | 'secureConnection',
    private readonly makeLink: (socket: Socket) => StreamLink,
    private readonly o: ResolvedOptions,
  ) {
    super();
    this.pool = new PreAuthPool({ max: o.maxPreAuth, perAddress: o.maxPreAuthPerAddress, deadlineMs: o.handshakeTimeoutMs });
    this.refusals = new RefusalLog(o.refusalLogIntervalMs, (counts, line) => {
      const err = new TransportError('TooManyLinks', `${url}: ${line}`);
      this.o.logger?.warn({ url, ...counts }, err.message);
      this.emit('warn', err);
    });
    server.maxConnections = o.maxConnections + 4 * o.maxPreAuth;
    server.on('drop', (d?: { remoteAddress?: string }) => this.refusals.count('refused', d?.remoteAddress));
    server.on('connection', this.onRawSocket);
    if (connectionEvent === 'secureConnection') server.on('secureConnection', this.onSecureSocket);
    // TLS handshake failures (bad client cert, port scanners) are counted, never one line each.
    server.on('tlsClientError', (_err: Error, s?: Socket) => this.refusals.count('tlsFailed', s?.remoteAddress));
  }

  /** The bound port, once {@link listen} resolved. */
  get localPort(): number | undefined {
    return this.port;
  }

  /** Connections waiting to authenticate. */
  get preAuthCount(): number {
    return this.pool.size;
  }

  /** Authenticated links currently up. */
  get authenticatedCount(): number {
    return this.authed.size;
  }

  /** Bind `addr`. @throws TransportError `ListenFailed` (e.g. address in use). */
  listen(addr: HostPort): Promise<this> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new TransportError('ListenFailed', `${this.url}: ${err.message}`, { cause: err }));
      };
      this.server.once('error', onError);
      this.server.listen(addr.port, addr.host, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.warn(err));
        const a = this.server.address();
        this.port = typeof a === 'object' && a !== null ? a.port : undefined;
        resolve(this);
      });
    });
  }

  /** Stop accepting and close every link and pending connection; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const e of this.pool.clear() as Pending[]) if (e.link === null) e.raw.destroy();
    this.byPeer.clear();
    await Promise.all([...this.links].map((l) => l.close()));
    this.refusals.flush();
    await stopped;
  }

  private readonly onRawSocket = (raw: Socket): void => {
    if (this.closed) {
      raw.destroy();
      return;
    }
    const address = raw.remoteAddress ?? '?';
    const peerKey = `${address}|${raw.remotePort ?? '?'}`;
    const entry: Pending = {
      address,
      raw,
      link: null,
      spoke: () => (entry.link?.framesReceived ?? 0) > 0,
      drop: (why) => this.dropPending(entry, peerKey, why),
    };
    this.pool.add(entry);
    this.byPeer.set(peerKey, entry);
    raw.once('close', () => {
      this.pool.remove(entry);
      if (this.byPeer.get(peerKey) === entry) this.byPeer.delete(peerKey);
    });
    if (this.connectionEvent === 'connection') this.startLink(entry, raw);
  };

  /** TLS: the TLS socket of a raw socket still in the pool (same remote address and port). */
  private readonly onSecureSocket = (socket: Socket): void => {
    const entry = this.byPeer.get(`${socket.remoteAddress ?? '?'}|${socket.remotePort ?? '?'}`);
    if (this.closed || entry === undefined || entry.link !== null) {
      socket.destroy();
      return;
    }
    this.startLink(entry, socket);
  };

  private startLink(entry: Pending, socket: Socket): void {
    const link = this.makeLink(socket);
    entry.link = link;
    this.links.add(link);
    link.once('close', () => {
      this.links.delete(link);
      this.authed.delete(link);
      this.pool.remove(entry);
    });
    link.once('authenticated', () => this.onAuthenticated(entry, link));
    this.offer(link);
  }

  private onAuthenticated(entry: Pending, link: StreamLink): void {
    // Evicted or timed out a moment ago: the link is already going away.
    if (!this.pool.remove(entry) || !link.open) return;
    this.byPeer.delete(`${entry.address}|${entry.raw.remotePort ?? '?'}`);
    if (this.authed.size >= this.o.maxConnections) {
      this.refusals.count('refused', entry.address);
      link.abort(new TransportError('TooManyLinks', `${this.url}: ${this.o.maxConnections} authenticated links up; closed ${link.description}`));
      return;
    }
    this.authed.add(link);
  }

  private dropPending(entry: Pending, peerKey: string, why: PreAuthExit): void {
    this.refusals.count(why === 'evicted' ? 'evicted' : 'timedOut', entry.address);
    if (this.byPeer.get(peerKey) === entry) this.byPeer.delete(peerKey);
    if (entry.link === null) {
      entry.raw.destroy();
      return;
    }
    const err = why === 'evicted'
      ? new TransportError('TooManyLinks', `${entry.link.description}: evicted from the pre-authentication pool`)
      : new TransportError('HandshakeTimeout', `${entry.link.description}: not authenticated within ${this.o.handshakeTimeoutMs} ms`);
    entry.link.abort(err);
  }

  private warn(err: Error): void {
    this.o.logger?.warn({ err, url: this.url }, err.message);
    this.emit('warn', err);
  }
}
