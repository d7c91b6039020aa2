/**
 * What a running node (v1 and v2 alike) needs of its link URLs and its start options: the MQTT
 * credentials and TLS material a config adds to an `mqtt(s)[-listen]:` URL, and the transport
 * handle a node keeps. Kept apart from either node's assembly so the v2 node needs nothing of v1's.
 */
import type { AttachedTransport } from '../node/attach-transport.js';
import type { TransportOptions } from '../transport/registry.js';
import type { ResolvedConfig } from './config.js';
import type { LastError } from './process-info.js';

/** A transport and the links it currently holds. */
export type RunningTransport = AttachedTransport;

/** Extra inputs of a node's start. */
export interface StartNodeOptions {
  /** The last error-level log line, for the status snapshot. */
  lastError?: () => LastError | null;
}

/**
 * Add `mqtt.username/password` to an `mqtt(s)[-listen]:` URL that has no credentials of its own,
 * and return the TLS material for it. Other URLs pass through.
 */
export function transportOptionsFor(url: string, cfg: ResolvedConfig): { url: string; tls?: TransportOptions['tls'] } {
  if (!/^mqtts?(-listen)?:/.test(url)) return { url };
  const m = cfg.mqtt;
  let out = url;
  if (m.username !== undefined) {
    try {
      const u = new URL(url);
      if (u.username === '') {
        u.username = encodeURIComponent(m.username);
        if (m.password !== undefined) u.password = encodeURIComponent(m.password);
        out = u.href;
      }
    } catch {
      /* openTransport reports the bad URL */
    }
  }
  const tls = m.ca !== undefined || m.cert !== undefined || m.key !== undefined ? { ca: m.ca, cert: m.cert, key: m.key } : undefined;
  return tls ? { url: out, tls } : { url: out };
}
