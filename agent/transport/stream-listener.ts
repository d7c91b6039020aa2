/** The listener transport shared by TCP and TLS: one link per accepted socket, bounded. */
import type { Server, Socket } from 'node:net';
import type { Link } from '../link.js';
import { TransportError } from './errors.js';
import { LinkSource } from './link-source.js';
import type { OpenedTransport, ResolvedOptions } from './options.js';
import type { HostPort } from './url.js';

/**
 * Listens on `addr`, turns each accepted socket into a link via `makeLink`. At most
 * `maxConnections` sockets are accepted at a time (Node destroys the extra ones at accept, before
 * any TLS handshake costs CPU); each refusal is reported as a `TooManyLinks` warning.
 */
export class StreamListenerTransport extends LinkSource implements OpenedTransport {
  private readonly links = new Set<Link>();
  private closed = false;
  private port: number | undefined;

  /**
   * @param connectionEvent `connection` for plain TCP, `secureConnection` for TLS (after the handshake).
   */
  constructor(
    readonly url: string,
    private readonly server: Server,
    private readonly connectionEvent: 'connection' | 'secureConnection',
    private readonly makeLink: (socket: Socket) => Link,
    private readonly o: ResolvedOptions,
  ) {
    super();
    server.maxConnections = o.maxConnections;
    server.on('drop', () => this.warn(new TransportError('TooManyLinks', `${url}: ${o.maxConnections} connections open; refused one`)));
    server.on(connectionEvent, this.onSocket);
    // TLS handshake failures (bad client cert, port scanners) are worth a warning, not a crash.
    server.on('tlsClientError', (err: Error) => this.warn(new TransportError('ConnectFailed', `${url}: TLS handshake failed: ${err.message}`, { cause: err })));
  }

  /** The bound port, once {@link listen} resolved. */
  get localPort(): number | undefined {
    return this.port;
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

  /** Stop accepting and close every link; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.links].map((l) => l.close()));
    await stopped;
  }

  private readonly onSocket = (socket: Socket): void => {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const link = this.makeLink(socket);
    this.links.add(link);
    link.once('close', () => this.links.delete(link));
    this.offer(link);
  };

  private warn(err: Error): void {
    this.o.logger?.warn({ err, url: this.url }, err.message);
    this.emit('warn', err);
  }
}
