/**
 * Envelope of protocol version 2: one message ↔ one CBOR array `[type, ...fields]`
 * (docs/design/v2-scopes.md §3), with the same contract as v1's envelope.ts: capped, canonical,
 * checked against the schemas (through the generated checks), typed errors; trailing fields a
 * decoder does not know are ignored, missing ones are refused.
 *
 * A top-level array whose first element is itself an array is a v2 *bare push* (§3.6, the
 * 7-element form of bare-push-v2.ts); it decodes to the `Push` it stands for.
 */
import { decodeBarePushV2 } from './bare-push-v2.js';
import { decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import { MAX_FRAME_BYTES } from './constants.js';
import { PROTOCOL_VERSION_2 } from './constants-v2.js';
import { MalformedError, SyncwireError, TooLargeError } from './errors.js';
import { messageFieldsV2, type FieldCheck } from './message-checks-v2.generated.js';
import { MessageTypeV2, type MessageNameV2 } from './message-type-v2.js';
import type { MessageV2, Push } from './messages-v2.js';

const typeNames = new Map<number, MessageNameV2>(
  (Object.entries(MessageTypeV2) as [MessageNameV2, number][]).map(([k, v]) => [v, k]),
);

/**
 * Encode a v2 message to its CBOR envelope. The message is validated first. An optional field
 * left undefined is omitted, with every field after it (so an `Error` without `scope` has exactly
 * three fields, as a pre-up refusal must, §3.1).
 * @throws MalformedError when the message does not match its schema (a programming error).
 * @throws TooLargeError when the encoding exceeds {@link MAX_FRAME_BYTES}.
 */
export function encodeMessageV2(msg: MessageV2): Uint8Array {
  assertValid(msg);
  const arr: CborValue[] = [MessageTypeV2[msg.type]];
  const rec = msg as unknown as Record<string, CborValue>;
  for (const f of messageFieldsV2[msg.type]) {
    if (f.optional && rec[f.name] === undefined) break; // optional fields trail: the rest are absent too
    arr.push(rec[f.name]!);
  }
  const bytes = encodeCbor(arr);
  // Same cap as decodeMessageV2, so nothing this encodes is refused by a conforming receiver.
  if (bytes.length > MAX_FRAME_BYTES) throw new TooLargeError(`${msg.type} of ${bytes.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  return bytes;
}

/**
 * Decode and validate one v2 message (or bare push).
 *
 * A `Hello` of another version that lacks `ephemeral` (a v1 peer older than sealing, or the v1
 * `Hello` vectors) is refused with reason `UnsupportedVersion` and the exact text §3.1 sends back,
 * not `Malformed`: the version is checked before the ephemeral key. A version-2 `Hello` without
 * it is `Malformed` "Hello without ephemeral key" (§3.1 step 2). A `Hello` of another version
 * that carries every field decodes normally: the session refuses its version (it has the key).
 * @param bytes one frame body (serial/TCP) or one MQTT payload.
 * @param maxBytes cap on `bytes` (default {@link MAX_FRAME_BYTES}).
 * @throws TooLargeError over the cap (or a bare push over its own cap); SyncwireError with reason
 * `UnsupportedVersion` as above; MalformedError for bad or non-canonical CBOR, an unknown type
 * (including 2, v1's `Keys`), a missing field or a schema failure.
 */
export function decodeMessageV2(bytes: Uint8Array, maxBytes = MAX_FRAME_BYTES): MessageV2 {
  const value = decodeCbor(bytes, maxBytes);
  if (!Array.isArray(value) || value.length === 0) throw new MalformedError('message is not a non-empty array');
  const head = value[0];
  if (Array.isArray(head)) {
    const bare = decodeBarePushV2(bytes);
    const push: Push = { type: 'Push', scope: bare.scope, remaining: null, exhausted: false, commands: [bare.command] };
    return push;
  }
  if (typeof head !== 'number') throw new MalformedError('message type is not an integer');
  const name = typeNames.get(head);
  if (name === undefined) throw new MalformedError(`unknown message type ${head}`);
  const fields = messageFieldsV2[name];
  const required = requiredCount(fields);
  if (name === 'Hello') refuseHelloWithoutEphemeral(value, fields);
  // Extra trailing fields are allowed (a newer minor version may append); missing ones are not.
  if (value.length - 1 < required) throw new MalformedError(`${name} has ${value.length - 1} fields, needs ${required}`);
  const obj: Record<string, unknown> = { type: name };
  for (let i = 0; i < fields.length && i + 1 < value.length; i++) obj[fields[i]!.name] = value[i + 1];
  assertValid(obj as unknown as MessageV2);
  return obj as unknown as MessageV2;
}

/**
 * §3.1 steps 1 and 2 for a `Hello` whose fields up to `nonce` are valid but that lacks `ephemeral`:
 * another version is refused for its version (reason `UnsupportedVersion`), version 2 as
 * `Malformed` "Hello without ephemeral key"; each message is the text the session sends back.
 */
function refuseHelloWithoutEphemeral(value: CborValue[], fields: readonly FieldCheck[]): void {
  const ephemeralAt = fields.findIndex((f) => f.name === 'ephemeral') + 1; // its array index
  if (value.length !== ephemeralAt) return;
  for (let i = 0; i + 1 < ephemeralAt; i++) if (!fields[i]!.check(value[i + 1])) return; // the schema check names it
  const version = value[1];
  if (version === PROTOCOL_VERSION_2) throw new MalformedError('Hello without ephemeral key');
  throw new SyncwireError('UnsupportedVersion', `protocol version ${String(version)} is not supported; this peer speaks version ${PROTOCOL_VERSION_2}`);
}

/** Fields a message of this kind must carry (the optional ones trail). */
function requiredCount(fields: readonly FieldCheck[]): number {
  let n = 0;
  while (n < fields.length && fields[n]!.optional !== true) n++;
  return n;
}

/** Check every field against the schema (generated checks, see message-checks-v2.generated.ts). */
function assertValid(msg: MessageV2): void {
  const name = (msg as { type?: unknown }).type;
  const fields = typeof name === 'string' && Object.hasOwn(messageFieldsV2, name) ? messageFieldsV2[name as MessageNameV2] : undefined;
  if (fields === undefined) throw new MalformedError(`unknown message type ${String(name)}`);
  const rec = msg as unknown as Record<string, unknown>;
  for (const f of fields) {
    if (f.optional && rec[f.name] === undefined) continue;
    if (!f.check(rec[f.name])) throw new MalformedError(`${String(name)}/${f.name}: must be ${f.expect}`);
  }
}
