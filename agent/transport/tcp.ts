/**
 * TCP transport: `tcp://host:port` dials (and redials with backoff), `tcp-listen://host:port`
 * accepts. Frames are length-prefixed (`protocol/tcp-frame.ts`); Nagle is off so a small push
 * leaves at once, keepalive is on so a dead peer behind a NAT is eventually noticed.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { SealPolicy } from '../../protocol/seal.js';
import { TcpFrameDecoder, encodeTcpFrame } from '../../protocol/tcp-frame.js';
import { TransportError } from './errors.js';
import type { OpenedTransport, ResolvedOptions } from './options.js';
import { RedialTransport } from './redial.js';
import { StreamLink } from './stream-link.js';
import { LISTENER_PARAMS, StreamListenerTransport, listenerOptions } from './stream-listener.js';
import { SEAL_PARAM, assertNoQuery, hostPort, sealParam, type HostPort } from './url.js';

/** TCP keepalive probe delay: long enough to cost nothing, short enough to beat NAT timeouts. */
const KEEPALIVE_MS = 30_000;

/** Configure a connected socket and wrap it in a length-prefixed {@link StreamLink} with sealing policy `seal`. */
export function tcpStreamLink(socket: net.Socket, stream: Duplex, description: string, o: ResolvedOptions, seal: SealPolicy): StreamLink {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, KEEPALIVE_MS);
  return new StreamLink(stream, {
    description,
    decoder: new TcpFrameDecoder(o.maxFrame),
    encode: encodeTcpFrame,
    maxFrame: o.maxFrame,
    highWaterMark: o.highWaterMark,
    sealPolicy: seal,
  });
}

/** `host:port` for descriptions, with IPv6 brackets. */
export function formatAddr(host: string | undefined, port: number | undefined): string {
  const h = host ?? '?';
  return `${h.includes(':') ? `[${h}]` : h}:${port ?? '?'}`;
}

/**
 * Connect once with a timeout; resolve with the socket after `readyEvent`, reject on error,
 * timeout or abort. Shared with TLS, whose socket is ready on `secureConnect`.
 */
export function connectSocket<S extends net.Socket>(
  make: () => S,
  readyEvent: 'connect' | 'secureConnect',
  what: string,
  o: ResolvedOptions,
  signal: AbortSignal,
): Promise<S> {
  return new Promise((resolve, reject) => {
    const socket = make();
    const fail = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(new TransportError('ConnectFailed', `${what}: ${err.message}`, { cause: err }));
    };
    const onError = (err: Error): void => fail(err);
    const onAbort = (): void => fail(new TransportError('Closed', 'transport closed'));
    const timer = setTimeout(() => fail(new Error(`no connection after ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once(readyEvent, () => {
      cleanup();
      resolve(socket);
    });
  });
}

/**
 * Build a TCP dialer (`listen` false) or listener from a parsed URL. Sealing (`seal=`) defaults
 * to `require`: nothing else protects a plain TCP link from an on-path attacker.
 */
export async function openTcp(url: URL, display: string, o: ResolvedOptions, listen: boolean): Promise<OpenedTransport> {
  assertNoQuery(url, listen ? [SEAL_PARAM, ...LISTENER_PARAMS] : [SEAL_PARAM], display);
  const addr: HostPort = hostPort(url, { listen });
  const seal = sealParam(url, 'require', display);
  if (listen) {
    o = listenerOptions(url, o);
    const server = net.createServer();
    const t = new StreamListenerTransport(display, server, 'connection', (socket) => {
      return tcpStreamLink(socket, socket, `tcp://${formatAddr(socket.remoteAddress, socket.remotePort)}`, o, seal);
    }, o);
    return t.listen(addr);
  }
  const description = `tcp://${formatAddr(addr.host, addr.port)}`;
  return new RedialTransport(display, async (signal) => {
    const socket = await connectSocket(() => net.connect({ host: addr.host, port: addr.port }), 'connect', description, o, signal);
    return tcpStreamLink(socket, socket, description, o, seal);
  }, o).start();
}
