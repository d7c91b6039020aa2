/**
 * Message schemas of protocol version 2 (TypeBox values; each type has the schema's name), the
 * scoped messages of docs/design/v2-scopes.md §3.2–§3.7.
 *
 * As in v1 (messages.ts) these describe the decoded, readable form; on the wire every message is
 * a CBOR array `[type, ...fields]` in the order the fields are declared here (envelope-v2.ts).
 * `scripts/gen-checks.ts` compiles them into `message-checks-v2.generated.ts`, which is what a
 * running agent uses, so TypeBox is never loaded at run time; `validatorsV2` serve the generator
 * and the tests. Every `scope` field is a number of the message's receiver (§3.2), except in
 * `Error` code 15 `UnknownScope` (§3.7).
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
  MAX_SAMPLE,
  MAX_VIA,
  NONCE_BYTES,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
} from './constants.js';
import { MAX_SCOPE_NAME, MAX_TRAIN_BYTES, SEGMENT_BYTES, MAX_SCOPE_NUMBER, MAX_SCOPES_CLOSE, MAX_SCOPES_OPEN, SCOPE_NAME_PATTERN } from './constants-v2.js';
import type { MessageNameV2 } from './message-type-v2.js';

const U32 = Type.Integer({ minimum: 0, maximum: 0xffffffff });
/** A scope number as a `Scopes`/`ScopesAck` entry states it (§3.3: < 65,536). */
const ScopeNumber = Type.Integer({ minimum: 0, maximum: MAX_SCOPE_NUMBER });
const Id = Type.Uint8Array({ minByteLength: ID_BYTES, maxByteLength: ID_BYTES });
const Ids = (max: number) => Type.Array(Id, { maxItems: max });
const ItemBytes = Type.Uint8Array({ minByteLength: 1, maxByteLength: MAX_COMMAND_BYTES });
// A frame holds at most MAX_FRAME_BYTES one-byte items; the frame cap is the real bound.
const Items = Type.Array(ItemBytes, { maxItems: MAX_FRAME_BYTES });
/** A compact batch as its encoded bytes (decoded by protocol/compact-batch.ts, which checks it). */
const Batch = Type.Uint8Array({ minByteLength: 1, maxByteLength: MAX_FRAME_BYTES });
const ScopeName = Type.String({ minLength: 1, maxLength: MAX_SCOPE_NAME, pattern: SCOPE_NAME_PATTERN.source });

export { MessageTypeV2, type MessageNameV2 } from './message-type-v2.js';

/**
 * First message on every link, both directions (P§7.1). `version` stays any uint32 so that a
 * peer's other version can be read and refused with `UnsupportedVersion` (§3.1); `ephemeral` is
 * required (no v2 peer predates sealing).
 */
export const Hello = Type.Object({
  type: Type.Literal('Hello'),
  version: U32,
  public_key: Type.Uint8Array({ minByteLength: PUBLIC_KEY_BYTES, maxByteLength: PUBLIC_KEY_BYTES }),
  max_frame: Type.Integer({ minimum: 0, maximum: MAX_FRAME_BYTES }),
  caps: U32,
  nonce: Type.Uint8Array({ minByteLength: NONCE_BYTES, maxByteLength: NONCE_BYTES }),
  ephemeral: Type.Uint8Array({ minByteLength: EPHEMERAL_KEY_BYTES, maxByteLength: EPHEMERAL_KEY_BYTES }),
});
export type Hello = Static<typeof Hello>;

/** Answer to the peer's `Hello` challenge: ed25519 over `authTranscriptV2` (as v1). */
export const Auth = Type.Object({
  type: Type.Literal('Auth'),
  signature: Type.Uint8Array({ minByteLength: SIGNATURE_BYTES, maxByteLength: SIGNATURE_BYTES }),
});
export type Auth = Static<typeof Auth>;

/**
 * Ask for the commands of one scope the sender lacks (§3.4). `window` 0: everything; n > 0: at
 * most the n data commands the responder appended last (plus membership commands), the rest a gap.
 */
export const PollRequest = Type.Object({
  type: Type.Literal('PollRequest'),
  scope: U32,
  session: U32,
  max_bytes: U32,
  heads: Ids(MAX_HEADS),
  sample: Ids(MAX_SAMPLE),
  window: U32,
  /** Field 7 (absent: false): the requester takes covered commands without their signature (bulk-sync §6). */
  elide: Type.Optional(Type.Boolean()),
  /** Field 8 (absent: 0): with caps `PollTrain`, the bytes a train of answers may total (≤ MAX_TRAIN_BYTES); 0: one answer. */
  train_bytes: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_TRAIN_BYTES })),
  /** Field 9 (absent: {@link SEGMENT_BYTES}): with `elide`, the most bytes one segment of the answer's batch may span (C5). */
  segment: Type.Optional(Type.Integer({ minimum: SEGMENT_BYTES, maximum: 0xffff_ffff })),
});
export type PollRequest = Static<typeof PollRequest>;

/**
 * Answer to a `PollRequest` (§3.4): `items` are commands (first byte 0x86) and horizon records
 * (0x83) in answer order (§3.5); `gap`: the requester lacks commands the responder will not send.
 */
export const PollResponse = Type.Object({
  type: Type.Literal('PollResponse'),
  scope: U32,
  session: U32,
  more: Type.Boolean(),
  gap: Type.Boolean(),
  total: U32,
  next_poll_ms: U32,
  heads: Ids(MAX_HEADS),
  items: Items,
  /** Field 9 (absent: null): a compact batch (bulk-sync §2), only to a requester with caps `CompactBatch`. */
  batch: Type.Optional(Type.Union([Batch, Type.Null()])),
  /** Field 10 (absent: false): another `PollResponse` of this `session` follows (a poll train, bulk-sync §5). */
  train: Type.Optional(Type.Boolean()),
});
export type PollResponse = Static<typeof PollResponse>;

/** Open or update this peer's push subscription to one scope (v1 fields per (peer, scope), §3.6). */
export const Subscribe = Type.Object({
  type: Type.Literal('Subscribe'),
  scope: U32,
  remain_open: U32,
  max_bytes: U32,
  sample: Ids(MAX_SAMPLE),
  via: Type.Array(Type.Uint8Array({ minByteLength: AUTHOR_BYTES, maxByteLength: AUTHOR_BYTES }), { maxItems: MAX_VIA }),
  /** Field 6 (absent: false): pushes may carry covered commands without their signature (bulk-sync §6). */
  elide: Type.Optional(Type.Boolean()),
});
export type Subscribe = Static<typeof Subscribe>;

/** What the agent granted for one scope's subscription: seconds until it closes, its byte budget. */
export const SubscribeAck = Type.Object({
  type: Type.Literal('SubscribeAck'),
  scope: U32,
  remain_open: U32,
  max_bytes: U32,
});
export type SubscribeAck = Static<typeof SubscribeAck>;

/** Close this peer's subscription to one scope (a no-op when there is none). */
export const Unsubscribe = Type.Object({ type: Type.Literal('Unsubscribe'), scope: U32 });
export type Unsubscribe = Static<typeof Unsubscribe>;

/**
 * New commands of one scope after the subscriber's known heads (§3.6: commands only). `remaining`
 * is `null` for a bare push (the receiver subtracts the body's length itself).
 */
export const Push = Type.Object({
  type: Type.Literal('Push'),
  scope: U32,
  remaining: Type.Union([U32, Type.Null()]),
  exhausted: Type.Boolean(),
  commands: Items,
  /** Field 5 (absent: null): a compact batch (bulk-sync §2), only to a subscriber with caps `CompactBatch`. */
  batch: Type.Optional(Type.Union([Batch, Type.Null()])),
});
export type Push = Static<typeof Push>;

/**
 * A refusal or failure (§3.7). `scope` is optional and trailing (absent means null): the
 * receiver's number of the refused scope (for `UnknownScope`, the number as the refused message
 * carried it). An `Error` sent before the link is up leaves it out (exactly three fields).
 */
export const ErrorMessage = Type.Object({
  type: Type.Literal('Error'),
  code: U32,
  message: Type.String({ maxLength: MAX_ERROR_TEXT }),
  retry_after_ms: Type.Union([U32, Type.Null()]),
  scope: Type.Optional(Type.Union([U32, Type.Null()])),
});
export type ErrorMessage = Static<typeof ErrorMessage>;

/**
 * The sender's scope-table changes (§3.3): `open` entries `[number, scope id, name]` ("name this
 * scope to me by `number`"), `close` numbers of the sender's own entries. `seq` counts from 0 per
 * link and side.
 */
export const Scopes = Type.Object({
  type: Type.Literal('Scopes'),
  seq: U32,
  open: Type.Array(Type.Tuple([ScopeNumber, Id, ScopeName]), { maxItems: MAX_SCOPES_OPEN }),
  close: Type.Array(ScopeNumber, { maxItems: MAX_SCOPES_CLOSE }),
});
export type Scopes = Static<typeof Scopes>;

/** Acknowledges the `Scopes` of `seq`: `refused` entries `[number, reason code]`; every other entry is accepted. */
export const ScopesAck = Type.Object({
  type: Type.Literal('ScopesAck'),
  seq: U32,
  refused: Type.Array(Type.Tuple([ScopeNumber, U32]), { maxItems: MAX_SCOPES_OPEN }),
});
export type ScopesAck = Static<typeof ScopesAck>;

/** The scope table's names for the two table messages (agent/sync/scope-table.ts). */
export type ScopesMessage = Scopes;
/** See {@link ScopesMessage}. */
export type ScopesAckMessage = ScopesAck;

/** Any protocol version 2 message. */
export type MessageV2 =
  | Hello
  | Auth
  | PollRequest
  | PollResponse
  | Subscribe
  | SubscribeAck
  | Unsubscribe
  | Push
  | ErrorMessage
  | Scopes
  | ScopesAck;

/** Schema per v2 message name, in wire field order (the object key order is the array order). */
export const schemasV2: Record<MessageNameV2, TSchema> = {
  Hello,
  Auth,
  PollRequest,
  PollResponse,
  Subscribe,
  SubscribeAck,
  Unsubscribe,
  Push,
  Error: ErrorMessage,
  Scopes,
  ScopesAck,
};

/** TypeBox's own compiled validators (a second opinion on the generated checks, for tests). */
export const validatorsV2 = Object.fromEntries(
  Object.entries(schemasV2).map(([name, schema]) => [name, TypeCompiler.Compile(schema)]),
) as Record<MessageNameV2, ReturnType<typeof TypeCompiler.Compile>>;
