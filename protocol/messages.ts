/**
 * Message schemas of the sync protocol (TypeBox values; each type has the schema's name).
 *
 * These describe the decoded, readable form of a message. On the wire every message is a CBOR
 * array `[type, ...fields]` in the order the fields are declared here (see envelope.ts and
 * docs/PROTOCOL.md). They are the source of truth for the checks a running agent applies, which
 * `scripts/gen-checks.ts` generates from them into `message-checks.generated.ts` (so
 * TypeBox, ~12 MB of resident memory, is never loaded at run time); the compiled `validators`
 * below serve the generator and the tests, which cross-check the two.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  AUTHOR_BYTES,
  EPHEMERAL_KEY_BYTES,
  ID_BYTES,
  MAX_COMMAND_BYTES,
  MAX_ERROR_TEXT,
  MAX_FRAME_BYTES,
  MAX_HEADS,
  MAX_KEYS,
  MAX_SAMPLE,
  MAX_VIA,
  NONCE_BYTES,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
} from './constants.js';
import type { MessageName } from './message-type.js';

const U32 = Type.Integer({ minimum: 0, maximum: 0xffffffff });
const Id = Type.Uint8Array({ minByteLength: ID_BYTES, maxByteLength: ID_BYTES });
const Ids = (max: number) => Type.Array(Id, { maxItems: max });
const CommandBytes = Type.Uint8Array({ minByteLength: 1, maxByteLength: MAX_COMMAND_BYTES });
// A frame can hold at most MAX_FRAME_BYTES / (smallest command) commands; the frame cap is the real bound.
const Commands = Type.Array(CommandBytes, { maxItems: MAX_FRAME_BYTES });

export { MessageType, type MessageName } from './message-type.js';

/** First message on every link, both directions: who I am, what I can take, a challenge for you. */
export const Hello = Type.Object({
  type: Type.Literal('Hello'),
  version: U32,
  public_key: Type.Uint8Array({ minByteLength: PUBLIC_KEY_BYTES, maxByteLength: PUBLIC_KEY_BYTES }),
  max_frame: Type.Integer({ minimum: 0, maximum: MAX_FRAME_BYTES }),
  caps: U32,
  nonce: Type.Uint8Array({ minByteLength: NONCE_BYTES, maxByteLength: NONCE_BYTES }),
  /** X25519 ephemeral public key for this handshake (§7.2); absent from peers older than sealing. */
  ephemeral: Type.Optional(Type.Uint8Array({ minByteLength: EPHEMERAL_KEY_BYTES, maxByteLength: EPHEMERAL_KEY_BYTES })),
});
export type Hello = Static<typeof Hello>;

/** Answer to the peer's `Hello` challenge: ed25519 signature over the auth transcript. */
export const Auth = Type.Object({
  type: Type.Literal('Auth'),
  signature: Type.Uint8Array({ minByteLength: SIGNATURE_BYTES, maxByteLength: SIGNATURE_BYTES }),
});
export type Auth = Static<typeof Auth>;

/** Public keys of command authors the sender knows (lets `trust: open` peers verify relayed commands). */
export const Keys = Type.Object({
  type: Type.Literal('Keys'),
  keys: Type.Array(Type.Uint8Array({ minByteLength: PUBLIC_KEY_BYTES, maxByteLength: PUBLIC_KEY_BYTES }), {
    maxItems: MAX_KEYS,
  }),
});
export type Keys = Static<typeof Keys>;

/** Ask for the commands the sender lacks: its heads and a sample of its graph. */
export const PollRequest = Type.Object({
  type: Type.Literal('PollRequest'),
  session: U32,
  max_bytes: U32,
  heads: Ids(MAX_HEADS),
  sample: Ids(MAX_SAMPLE),
});
export type PollRequest = Static<typeof PollRequest>;

/** Immediate answer to a `PollRequest`: missing commands in causal order, within `max_bytes`. */
export const PollResponse = Type.Object({
  type: Type.Literal('PollResponse'),
  session: U32,
  more: Type.Boolean(),
  total: U32,
  next_poll_ms: U32,
  heads: Ids(MAX_HEADS),
  commands: Commands,
});
export type PollResponse = Static<typeof PollResponse>;

/**
 * Open or update this peer's push subscription. `via` lists the peer ids (8-byte fingerprints) of the other agents this subscriber also holds a push
 * subscription with; the agent does not relay to it commands that arrived from one of those
 * (they push them too), which keeps a mesh free of redundant pushes.
 */
export const Subscribe = Type.Object({
  type: Type.Literal('Subscribe'),
  remain_open: U32,
  max_bytes: U32,
  sample: Ids(MAX_SAMPLE),
  via: Type.Array(Type.Uint8Array({ minByteLength: AUTHOR_BYTES, maxByteLength: AUTHOR_BYTES }), { maxItems: MAX_VIA }),
});
export type Subscribe = Static<typeof Subscribe>;

/** What the agent granted: seconds until the subscription closes and its byte budget. */
export const SubscribeAck = Type.Object({
  type: Type.Literal('SubscribeAck'),
  remain_open: U32,
  max_bytes: U32,
});
export type SubscribeAck = Static<typeof SubscribeAck>;

/** Close this peer's subscription (a no-op when there is none). */
export const Unsubscribe = Type.Object({ type: Type.Literal('Unsubscribe') });
export type Unsubscribe = Static<typeof Unsubscribe>;

/**
 * New commands after the subscriber's known heads. `remaining` is the budget left after this
 * push, `null` for a bare-command push (the subscriber subtracts the command's size itself).
 * `exhausted` is true when the budget stopped the push short; the subscription is then closed.
 */
export const Push = Type.Object({
  type: Type.Literal('Push'),
  remaining: Type.Union([U32, Type.Null()]),
  exhausted: Type.Boolean(),
  commands: Commands,
});
export type Push = Static<typeof Push>;

/** A refusal or failure, with a reason code and, when transient, when to come back. */
export const ErrorMessage = Type.Object({
  type: Type.Literal('Error'),
  code: U32,
  message: Type.String({ maxLength: MAX_ERROR_TEXT }),
  retry_after_ms: Type.Union([U32, Type.Null()]),
});
export type ErrorMessage = Static<typeof ErrorMessage>;

/** Any protocol message. */
export type Message =
  | Hello
  | Auth
  | Keys
  | PollRequest
  | PollResponse
  | Subscribe
  | SubscribeAck
  | Unsubscribe
  | Push
  | ErrorMessage;

/** Schema per message name, in wire field order (the object key order is the array order). */
export const schemas: Record<MessageName, TSchema> = {
  Hello,
  Auth,
  Keys,
  PollRequest,
  PollResponse,
  Subscribe,
  SubscribeAck,
  Unsubscribe,
  Push,
  Error: ErrorMessage,
};

/** TypeBox's own compiled validators (for the generator's tests: a second opinion on the generated checks). */
export const validators = Object.fromEntries(
  Object.entries(schemas).map(([name, schema]) => [name, TypeCompiler.Compile(schema)]),
) as Record<MessageName, ReturnType<typeof TypeCompiler.Compile>>;
