/**
 * Typed errors of the transport layer. They extend the project's {@link SyncwireError} so generic
 * handlers keep working, and add a transport-specific `kind` for the failures that have no wire
 * reason code (a bad URL never leaves this process).
 */
import { SyncwireError, type ReasonName } from '../../protocol/errors.js';

/** What went wrong in a transport. */
export const TransportErrorKind = {
  /** The URL scheme names no known transport. */
  UnknownScheme: 'UnknownScheme',
  /** The URL (or an option derived from it) is malformed or incomplete. */
  BadUrl: 'BadUrl',
  /** A required option is missing or invalid (e.g. MQTT without a self id, TLS server without a key). */
  BadOptions: 'BadOptions',
  /** Connecting (or opening a serial device) failed; the transport retries. */
  ConnectFailed: 'ConnectFailed',
  /** A listener could not bind its address. */
  ListenFailed: 'ListenFailed',
  /** An established connection was lost (socket reset, device unplugged, broker gone). */
  Disconnected: 'Disconnected',
  /** The link or transport was closed locally. */
  Closed: 'Closed',
  /** A bound on links or connections was reached; the extra one was refused. */
  TooManyLinks: 'TooManyLinks',
  /** A listener closed a connection whose peer did not authenticate within the handshake deadline. */
  HandshakeTimeout: 'HandshakeTimeout',
} as const;

/** Name of a {@link TransportErrorKind}. */
export type TransportErrorKind = (typeof TransportErrorKind)[keyof typeof TransportErrorKind];

// Kinds that correspond to a wire reason; everything else is local and maps to `Internal`.
const WIRE_REASON: Partial<Record<TransportErrorKind, ReasonName>> = {
  BadUrl: 'Malformed',
  BadOptions: 'Malformed',
  Disconnected: 'Closed',
  Closed: 'Closed',
  TooManyLinks: 'Busy',
  HandshakeTimeout: 'Closed',
};

/** An error raised or emitted (as `warn` / link `close`) by a transport; `name` is `TransportError`. */
export class TransportError extends SyncwireError {
  /** Transport-specific failure kind. */
  readonly kind: TransportErrorKind;
  constructor(kind: TransportErrorKind, message: string, options?: { cause?: unknown }) {
    super(WIRE_REASON[kind] ?? 'Internal', message, options);
    this.name = 'TransportError';
    this.kind = kind;
  }
}
