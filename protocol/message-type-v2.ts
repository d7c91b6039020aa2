/**
 * Numeric message types of protocol version 2 (docs/design/v2-scopes.md §3.2) — with the
 * generated checks (message-checks-v2.generated.ts) the only part of the v2 message definitions
 * needed at run time, so the TypeBox schemas in messages-v2.ts are never loaded by an agent.
 */

/**
 * Numeric v2 message types (the first element of every envelope). Never renumber. Type 2 (v1's
 * `Keys`) is not defined in v2: a decoder treats it as any unknown type (`Malformed`).
 */
export const MessageTypeV2 = {
  Hello: 0,
  Auth: 1,
  PollRequest: 3,
  PollResponse: 4,
  Subscribe: 5,
  SubscribeAck: 6,
  Unsubscribe: 7,
  Push: 8,
  Error: 9,
  Scopes: 10,
  ScopesAck: 11,
} as const;

/** Name of a v2 message type. */
export type MessageNameV2 = keyof typeof MessageTypeV2;
