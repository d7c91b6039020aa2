/**
 * Options shared by every transport builder, and their defaults. Types only plus a resolver: no
 * I/O module is imported here, so the registry can load it without pulling in a transport.
 */
// The package's `exports` map has no `types` condition: only its CommonJS entry carries typings.
import type { BindingInterface } from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import { MAX_FRAME_BYTES } from '../../protocol/constants.js';
import type { Transport } from '../link.js';
import type { Logger } from '../node/log.js';
import { Backoff } from './backoff.js';

/**
 * TLS material. A `string` is a file path, unless it contains `-----BEGIN` (then it is PEM text);
 * a `Buffer` is PEM content.
 */
export interface TlsOptions {
  /** Trusted CA(s). Dialers: verify the server against it (default: Node's root store). Listeners: when given, client certificates are requested and verified against it. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Own certificate chain: required for listeners, optional client cert for dialers. */
  cert?: string | Buffer;
  /** Private key of `cert`. */
  key?: string | Buffer;
  /** Reject peers whose certificate does not verify. Default true; false only for experiments. */
  rejectUnauthorized?: boolean;
  /** SNI / name checked against the server certificate. Default: the URL host. */
  servername?: string;
}

/** Options of {@link openTransport}; every field is optional except where a scheme needs it. */
export interface TransportOptions {
  /** This peer's id (16 lowercase hex chars). Required by MQTT unless the URL has `self=`. */
  selfId?: string;
  /** Where warnings and lifecycle debug lines go (in addition to the `warn` event). Default: nowhere. */
  logger?: Logger;
  /** Ceiling of the first reconnect delay in ms. Default 250. Delays are drawn with full jitter (`backoff.ts`). */
  reconnectBaseMs?: number;
  /** Largest reconnect delay ceiling in ms. Default 30000. */
  reconnectMaxMs?: number;
  /**
   * MQTT: largest ceiling of the broker reconnect delay in ms. Default 5000, so that pushes
   * resume within seconds of a broker's return; 500 devices then spread over 5 s (≈100
   * CONNECTs/s, well within one Mosquitto's capacity).
   */
  mqttReconnectMaxMs?: number;
  /** A connection that stayed up this long resets the backoff to its base. Default 5000 ms. */
  stableAfterMs?: number;
  /** Bytes queued on a link above which `send` returns false. Default 65536. */
  highWaterMark?: number;
  /** Largest frame body a link carries. Default and maximum {@link MAX_FRAME_BYTES}. */
  maxFrame?: number;
  /** TCP/TLS listeners: most authenticated links at once; a peer authenticating beyond it is closed. Default 256 (URL `max_conns=`). */
  maxConnections?: number;
  /** TCP/TLS listeners: most connections not yet authenticated; a new one evicts the oldest (silent ones first). Default 64 (URL `max_preauth=`). */
  maxPreAuth?: number;
  /** TCP/TLS listeners: most unauthenticated connections from one source address; a new one evicts that address's oldest. Default 4 (URL `preauth_per_addr=`). */
  maxPreAuthPerAddress?: number;
  /** TCP/TLS listeners: a connection whose peer has not authenticated this long after accept is closed. Default 5000 ms (URL `handshake_ms=`); 0 = no deadline (tests driving raw links). */
  handshakeTimeoutMs?: number;
  /** TCP/TLS listeners: refused, evicted and timed-out connections are logged as one summary line per this interval. Default 10000 ms. */
  refusalLogIntervalMs?: number;
  /** MQTT listen mode: most authenticated virtual links; messages from further senders are dropped. Default 1024. */
  maxLinks?: number;
  /**
   * MQTT listen mode: most virtual links whose peer has not authenticated yet, kept apart from
   * `maxLinks`; a new sender beyond it evicts the oldest such link. Default 64.
   */
  mqttMaxPendingLinks?: number;
  /**
   * MQTT listen mode: new unauthenticated virtual links created per second at most (a token
   * bucket holding one second's worth); messages from further new senders are dropped. A sender
   * that authenticated before on this transport is exempt. Default 50.
   */
  mqttPendingLinksPerS?: number;
  /** MQTT: warn when broker-connected this long without an authenticated link. Default 60000 ms. */
  mqttLinklessWarnMs?: number;
  /** TLS material for `tls:`, `tls-listen:` and `mqtts:`; URL `ca=`/`cert=`/`key=` override it. */
  tls?: TlsOptions;
  /** Serial: the serialport binding to use (tests inject `firmware-sim`). Default: the native one. */
  binding?: BindingInterface;
  /** Dialers: give up one connection attempt after this long (then back off). Default 10000 ms. */
  connectTimeoutMs?: number;
  /** MQTT keepalive in seconds. Default 30. */
  mqttKeepaliveS?: number;
  /** MQTT protocol version: 4 (3.1.1, works with aedes) or 5. Default 4. */
  mqttProtocolVersion?: 4 | 5;
  /** Random source for jitter, in [0,1). Default Math.random. */
  random?: () => number;
}

/** {@link TransportOptions} with every default filled in. */
export interface ResolvedOptions extends TransportOptions {
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  mqttReconnectMaxMs: number;
  stableAfterMs: number;
  highWaterMark: number;
  maxFrame: number;
  maxConnections: number;
  maxPreAuth: number;
  maxPreAuthPerAddress: number;
  handshakeTimeoutMs: number;
  refusalLogIntervalMs: number;
  maxLinks: number;
  mqttMaxPendingLinks: number;
  mqttPendingLinksPerS: number;
  mqttLinklessWarnMs: number;
  connectTimeoutMs: number;
}

/** What {@link openTransport} returns: a {@link Transport}, plus the bound port of a listener. */
export interface OpenedTransport extends Transport {
  /** The local port a listener bound (useful with port 0); undefined for dialers and MQTT. */
  readonly localPort: number | undefined;
}

/** Fill in the defaults of {@link TransportOptions}. */
export function resolveOptions(opts: TransportOptions): ResolvedOptions {
  return {
    ...opts,
    reconnectBaseMs: opts.reconnectBaseMs ?? 250,
    reconnectMaxMs: opts.reconnectMaxMs ?? 30_000,
    mqttReconnectMaxMs: opts.mqttReconnectMaxMs ?? Math.min(5_000, opts.reconnectMaxMs ?? 30_000),
    stableAfterMs: opts.stableAfterMs ?? 5_000,
    highWaterMark: opts.highWaterMark ?? 64 * 1024,
    maxFrame: Math.min(opts.maxFrame ?? MAX_FRAME_BYTES, MAX_FRAME_BYTES),
    maxConnections: opts.maxConnections ?? 256,
    maxPreAuth: opts.maxPreAuth ?? 64,
    maxPreAuthPerAddress: opts.maxPreAuthPerAddress ?? 4,
    handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 5_000,
    refusalLogIntervalMs: opts.refusalLogIntervalMs ?? 10_000,
    maxLinks: opts.maxLinks ?? 1024,
    mqttMaxPendingLinks: opts.mqttMaxPendingLinks ?? 64,
    mqttPendingLinksPerS: opts.mqttPendingLinksPerS ?? 50,
    mqttLinklessWarnMs: opts.mqttLinklessWarnMs ?? 60_000,
    connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
  };
}

/** A reconnect backoff configured from resolved options; `maxMs` overrides the cap. */
export function backoffFrom(o: ResolvedOptions, maxMs = o.reconnectMaxMs): Backoff {
  return new Backoff({ baseMs: o.reconnectBaseMs, maxMs, random: o.random });
}
