/**
 * TLS transport: `tls://host:port` dials (server verified, optional client certificate),
 * `tls-listen://host:port` accepts (certificate and key required; when a CA is given, clients
 * must present a certificate it signed). Same framing and reconnect behaviour as TCP.
 */
import net from 'node:net';
import tls from 'node:tls';
import { TransportError } from './errors.js';
import type { OpenedTransport, ResolvedOptions } from './options.js';
import { RedialTransport } from './redial.js';
import { LISTENER_PARAMS, StreamListenerTransport, listenerOptions } from './stream-listener.js';
import { connectSocket, formatAddr, tcpStreamLink } from './tcp.js';
import { loadTls } from './tls-material.js';
import { SEAL_PARAM, assertNoQuery, hostPort, sealParam } from './url.js';

/**
 * Build a TLS dialer (`listen` false) or listener from a parsed URL. Sealing (`seal=`) defaults
 * to `prefer`: TLS already protects the connection, so a peer of this revision that does not
 * seal is still accepted (a legacy peer needs `seal=off`).
 */
export async function openTls(url: URL, display: string, o: ResolvedOptions, listen: boolean): Promise<OpenedTransport> {
  const params = ['ca', 'cert', 'key', SEAL_PARAM];
  assertNoQuery(url, listen ? [...params, ...LISTENER_PARAMS] : params, display);
  const addr = hostPort(url, { listen });
  const seal = sealParam(url, 'prefer', display);
  if (listen) o = listenerOptions(url, o);
  const m = await loadTls(url, o.tls, display);
  if (listen) {
    if (m.cert === undefined || m.key === undefined) {
      throw new TransportError('BadOptions', `${display}: a TLS listener needs cert and key`);
    }
    const server = tls.createServer({
      cert: m.cert, key: m.key, ca: m.ca, requestCert: m.ca !== undefined, rejectUnauthorized: m.rejectUnauthorized,
      // The pre-auth pool's deadline covers the TLS handshake too; Node's own default is 120 s.
      ...(o.handshakeTimeoutMs > 0 ? { handshakeTimeout: o.handshakeTimeoutMs } : {}),
    });
    const t = new StreamListenerTransport(display, server, 'secureConnection', (socket) => {
      return tcpStreamLink(socket, socket, `tls://${formatAddr(socket.remoteAddress, socket.remotePort)}`, o, seal);
    }, o);
    return t.listen(addr);
  }
  const description = `tls://${formatAddr(addr.host, addr.port)}`;
  // SNI must be a name, never an IP address; Node checks IP SANs by itself.
  const servername = m.servername ?? (net.isIP(addr.host) ? undefined : addr.host);
  return new RedialTransport(display, async (signal) => {
    const make = (): tls.TLSSocket => tls.connect({
      host: addr.host, port: addr.port, ca: m.ca, cert: m.cert, key: m.key,
      rejectUnauthorized: m.rejectUnauthorized, servername,
    });
    const socket = await connectSocket(make, 'secureConnect', description, o, signal);
    return tcpStreamLink(socket, socket, description, o, seal);
  }, o).start();
}
