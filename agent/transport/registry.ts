/**
 * Opening a transport from a URL. The builder module of each scheme is imported lazily, so a
 * serial-only agent never loads mqtt.js (≈20 MB resident) and a TCP-only one never loads the
 * serialport native binding.
 *
 * URL grammar (query parameters not listed are rejected). Every URL also takes
 * `seal=require|prefer|off`, the sealing policy of its links (PROTOCOL.md §7.2; `Link.sealPolicy`):
 * default `require` for `tcp`, `tcp-listen` and every MQTT scheme, `prefer` for `tls`,
 * `tls-listen` and `serial`.
 *
 * | URL | transport |
 * |---|---|
 * | `serial:<device path>[?baud=<n>]` | serial dialer, default 115200 baud |
 * | `tcp://host:port` | TCP dialer (reconnects) |
 * | `tcp-listen://host:port` | TCP listener (port 0 = any free port; see `localPort`) |
 * | `tls://host:port[?ca=&cert=&key=]` | TLS dialer; files override `opts.tls` |
 * | `tls-listen://host:port[?ca=&cert=&key=]` | TLS listener (cert and key required) |
 * | `mqtt[s]://[user:pass@]host[:port][,host2[:port2],…]/<remoteId>[?prefix=&self=&ca=&cert=&key=]` | MQTT dialer to one peer, default port 1883 (8883 for mqtts); a node list fails over |
 * | `mqtt[s]-listen://[user:pass@]host[:port][,host2[:port2],…][?prefix=&self=&ca=&cert=&key=]` | MQTT listener, one link per sender |
 */
import { TransportError } from './errors.js';
import { resolveOptions, type OpenedTransport, type ResolvedOptions, type TransportOptions } from './options.js';
import { parseMultiHostUrl, redactUrl } from './url.js';

export { TransportError, TransportErrorKind } from './errors.js';
export type { OpenedTransport, TlsOptions, TransportOptions } from './options.js';
export type { Logger } from '../node/log.js';
export { redactUrl } from './url.js';

type Builder = (url: URL, display: string, o: ResolvedOptions, hosts: string[]) => Promise<OpenedTransport>;

const BUILDERS: Record<string, Builder> = {
  'serial:': async (u, d, o) => (await import('./serial.js')).openSerial(u, d, o),
  'tcp:': async (u, d, o) => (await import('./tcp.js')).openTcp(u, d, o, false),
  'tcp-listen:': async (u, d, o) => (await import('./tcp.js')).openTcp(u, d, o, true),
  'tls:': async (u, d, o) => (await import('./tls.js')).openTls(u, d, o, false),
  'tls-listen:': async (u, d, o) => (await import('./tls.js')).openTls(u, d, o, true),
  'mqtt:': async (u, d, o, h) => (await import('./mqtt.js')).openMqtt(u, d, o, h, false, false),
  'mqtts:': async (u, d, o, h) => (await import('./mqtt.js')).openMqtt(u, d, o, h, true, false),
  'mqtt-listen:': async (u, d, o, h) => (await import('./mqtt.js')).openMqtt(u, d, o, h, false, true),
  'mqtts-listen:': async (u, d, o, h) => (await import('./mqtt.js')).openMqtt(u, d, o, h, true, true),
};

/** URL schemes {@link openTransport} understands, with their trailing colon. */
export const TRANSPORT_SCHEMES: readonly string[] = Object.keys(BUILDERS);

/**
 * Start the transport `url` names. Dialers resolve at once and emit `link` when connected
 * (listen for it right after the await); listeners resolve once bound.
 * @throws TransportError `BadUrl` (unparsable URL, missing host/port/path, unknown parameter),
 * `UnknownScheme`, `BadOptions` (e.g. MQTT without a self id, unreadable TLS file),
 * `ListenFailed` (address in use).
 */
export async function openTransport(url: string, opts: TransportOptions = {}): Promise<OpenedTransport> {
  const display = redactUrl(url);
  const { url: parsed, hosts } = parseMultiHostUrl(url, display);
  const build = Object.hasOwn(BUILDERS, parsed.protocol) ? BUILDERS[parsed.protocol] : undefined;
  if (build === undefined) {
    throw new TransportError('UnknownScheme', `unknown transport scheme ${parsed.protocol} in ${display}; known: ${TRANSPORT_SCHEMES.join(' ')}`);
  }
  if (hosts.length > 1 && !parsed.protocol.startsWith('mqtt')) throw new TransportError('BadUrl', `${display}: only MQTT URLs take a list of hosts`);
  return build(parsed, display, resolveOptions(opts), hosts);
}
