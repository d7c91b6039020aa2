/**
 * Reason codes carried on the wire in `Error` messages and by every error class of the project.
 * Numeric values are part of the wire format: never renumber, only append.
 */
export const ReasonCode = {
  Malformed: 1,
  TooLarge: 2,
  UnsupportedVersion: 3,
  Unauthorized: 4,
  MaximumSubscriptionsExceeded: 5,
  BudgetExhausted: 6,
  Busy: 7,
  UnknownParent: 8,
  BadSignature: 9,
  UnknownAuthor: 10,
  CrcMismatch: 11,
  Internal: 12,
  Closed: 13,
  SealingRequired: 14,
  // Protocol version 2 (scopes; docs/design/v2-scopes.md §3.11). Never sent by a version-1 peer.
  UnknownScope: 15,
  NotAMember: 16,
  ScopeDeclined: 17,
  TooManyScopes: 18,
  NotPermitted: 19,
} as const;

/** Name of a reason code. */
export type ReasonName = keyof typeof ReasonCode;
/** Numeric value of a reason code. */
export type ReasonValue = (typeof ReasonCode)[ReasonName];

const names = new Map<number, ReasonName>(
  (Object.entries(ReasonCode) as [ReasonName, number][]).map(([k, v]) => [v, k]),
);

/** The name of a numeric reason code, or `undefined` for a code this version does not know. */
export function reasonName(code: number): ReasonName | undefined {
  return names.get(code);
}

/** Base class of every error syncwire raises: carries a reason code that maps onto the wire `Error`. */
export class SyncwireError extends Error {
  /** Reason name, e.g. `Malformed`. */
  readonly reason: ReasonName;
  /** Suggested wait before retrying, in ms, when the reason is transient. */
  readonly retryAfterMs: number | undefined;
  constructor(reason: ReasonName, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SyncwireError';
    this.reason = reason;
    this.retryAfterMs = options?.retryAfterMs;
  }
  /** Numeric wire code of `reason`. */
  get code(): ReasonValue {
    return ReasonCode[this.reason];
  }
}

/** Input could not be decoded: bad CBOR, wrong shape, non-canonical encoding, failed schema. */
export class MalformedError extends SyncwireError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Malformed', message, options);
    this.name = 'MalformedError';
  }
}

/** Input exceeds a size cap (frame, command, list length). */
export class TooLargeError extends SyncwireError {
  constructor(message: string) {
    super('TooLarge', message);
    this.name = 'TooLargeError';
  }
}

/** A serial frame whose CRC-32 does not match its body. */
export class CrcMismatchError extends SyncwireError {
  constructor(message: string) {
    super('CrcMismatch', message);
    this.name = 'CrcMismatchError';
  }
}

/** A command whose signature does not verify against its author's key. */
export class BadSignatureError extends SyncwireError {
  constructor(message: string) {
    super('BadSignature', message);
    this.name = 'BadSignatureError';
  }
}

/** Peer or author not allowed by the trust list, or link authentication failed. */
export class UnauthorizedError extends SyncwireError {
  constructor(message: string) {
    super('Unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

/** A command whose author lacks the role it needs at that command, or a scope rule it breaks (v2). */
export class NotPermittedError extends SyncwireError {
  constructor(message: string) {
    super('NotPermitted', message);
    this.name = 'NotPermittedError';
  }
}
