/**
 * Numeric message types (the first element of every envelope) — the one part of the message
 * definitions needed at run time besides the generated checks (message-checks.generated.ts),
 * so the TypeBox schemas in messages.ts are never loaded by a running agent.
 */

/** Numeric message types. Never renumber. */
export const MessageType = {
  Hello: 0,
  Auth: 1,
  Keys: 2,
  PollRequest: 3,
  PollResponse: 4,
  Subscribe: 5,
  SubscribeAck: 6,
  Unsubscribe: 7,
  Push: 8,
  Error: 9,
} as const;

/** Name of a message type. */
export type MessageName = keyof typeof MessageType;
