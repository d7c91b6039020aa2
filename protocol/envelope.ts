/**
 * Envelope: one message ↔ one CBOR array `[type, ...fields]`.
 *
 * A top-level array whose first element is itself an array is a *bare command*: the encoding of
 * one command (see command.ts) sent as a one-command `Push` with no envelope at all, so a push on
 * a UART costs the framing bytes and nothing else.
 */
import { decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import { MAX_COMMAND_BYTES, MAX_FRAME_BYTES } from './constants.js';
import { MalformedError, TooLargeError } from './errors.js';
import { messageFields } from './message-checks.generated.js';
import { MessageType, type MessageName } from './message-type.js';
import type { Message, Push } from './messages.js';

const typeNames = new Map<number, MessageName>(
  (Object.entries(MessageType) as [MessageName, number][]).map(([k, v]) => [v, k]),
);

/**
 * Encode a message to its CBOR envelope. The message is validated first.
 * @throws MalformedError when the message does not match its schema (a programming error).
 * @throws TooLargeError when the encoding exceeds {@link MAX_FRAME_BYTES}.
 */
export function encodeMessage(msg: Message): Uint8Array {
  assertValid(msg);
  const arr: CborValue[] = [MessageType[msg.type]];
  const rec = msg as unknown as Record<string, CborValue>;
  for (const f of messageFields[msg.type]) {
    if (f.optional && rec[f.name] === undefined) break; // optional fields trail: the rest are absent too
    arr.push(rec[f.name]!);
  }
  const bytes = encodeCbor(arr);
  // Same cap as decodeMessage, so nothing this encodes is refused by a conforming receiver.
  if (bytes.length > MAX_FRAME_BYTES) throw new TooLargeError(`${msg.type} of ${bytes.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  return bytes;
}

/**
 * Encode a one-command push without an envelope: the frame body is the command itself.
 * Only for peers that announced `Capability.BareCommand`.
 */
export function encodeBarePush(command: Uint8Array): Uint8Array {
  // A command is always a 5-element array whose first element (the parents) is an array.
  if (command.length < 2 || command.length > MAX_COMMAND_BYTES || command[0] !== 0x85 || (command[1]! & 0xe0) !== 0x80) {
    throw new MalformedError('a bare push must carry exactly one encoded command');
  }
  return command;
}

/**
 * Decode and validate one message.
 * @param bytes one frame body (serial/TCP) or one MQTT payload.
 * @param maxBytes cap on `bytes` (default {@link MAX_FRAME_BYTES}).
 * @throws TooLargeError over the cap; MalformedError for bad CBOR, unknown type or a schema failure.
 */
export function decodeMessage(bytes: Uint8Array, maxBytes = MAX_FRAME_BYTES): Message {
  const value = decodeCbor(bytes, maxBytes);
  if (!Array.isArray(value) || value.length === 0) throw new MalformedError('message is not a non-empty array');
  const head = value[0];
  if (Array.isArray(head)) {
    if (bytes.length > MAX_COMMAND_BYTES) throw new MalformedError('bare command exceeds the command size cap');
    // Bare command: the bytes are the command; copy so the message owns them.
    const push: Push = { type: 'Push', remaining: null, exhausted: false, commands: [Uint8Array.from(bytes)] };
    return push;
  }
  if (typeof head !== 'number') throw new MalformedError('message type is not an integer');
  const name = typeNames.get(head);
  if (name === undefined) throw new MalformedError(`unknown message type ${head}`);
  const fields = messageFields[name];
  const required = requiredCount(fields);
  // Extra trailing fields are allowed (a newer minor version may append); missing ones are not.
  if (value.length - 1 < required) throw new MalformedError(`${name} has ${value.length - 1} fields, needs ${required}`);
  const obj: Record<string, unknown> = { type: name };
  for (let i = 0; i < fields.length && i + 1 < value.length; i++) obj[fields[i]!.name] = value[i + 1];
  assertValid(obj as unknown as Message);
  return obj as unknown as Message;
}

/** Fields a message of this kind must carry (the optional ones trail). */
function requiredCount(fields: readonly { optional?: true }[]): number {
  let n = 0;
  while (n < fields.length && fields[n]!.optional !== true) n++;
  return n;
}

/** Check every field against the schema (generated checks, see message-checks.generated.ts). */
function assertValid(msg: Message): void {
  const name = (msg as { type?: unknown }).type;
  const fields = typeof name === 'string' && Object.hasOwn(messageFields, name) ? messageFields[name as MessageName] : undefined;
  if (fields === undefined) throw new MalformedError(`unknown message type ${String(name)}`);
  const rec = msg as unknown as Record<string, unknown>;
  for (const f of fields) {
    if (f.optional && rec[f.name] === undefined) continue;
    if (!f.check(rec[f.name])) throw new MalformedError(`${String(name)}/${f.name}: must be ${f.expect}`);
  }
}
