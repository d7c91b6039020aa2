/**
 * Message vectors of protocol version 2 (docs/design/v2-scopes.md §10, `messages.json` bullet):
 * `docs/vectors/messages-v2.json`, in the case shape of v1's messages.json (`name`,
 * `description`, `message` in the readable form, `cbor`), plus `decode_only`, `rejects` and
 * `item_rejects` (poll answer items that are not valid horizon records).
 *
 * Deterministic: identities from the seeds 0x01…, 0x02…; ephemeral secrets 0x11…, 0x22…; scope
 * ids and command ids are fixed patterns (0x11×32 …) except for the one signed command, which is
 * a real v2 command (ed25519 is deterministic). `message` is the decoded value of `cbor`, so its
 * key order is the wire order. `make vectors` (scripts/gen-vectors.ts) writes it;
 * test/vectors-messages-v2.test.ts checks every case both ways.
 */
import { encodeBarePushV2 } from '../protocol/bare-push-v2.js';
import { encodeCbor } from '../protocol/cbor.js';
import { encodeCommandV2 } from '../protocol/command-v2.js';
import { Capability, MAX_COMMAND_BYTES } from '../protocol/constants.js';
import { CommandKind, MAX_SCOPE_NAME, MAX_SCOPE_NUMBER, MAX_SCOPES_CLOSE, MAX_SCOPES_OPEN, MAX_TRAIN_BYTES, PROTOCOL_VERSION_2 } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { identityFromSecret, toHex } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { authTranscriptV2, ephemeralFromSecret } from '../protocol/seal-keys.js';
import { toReadable } from '../testkit/vectors.js';

const fill = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);
const seq = (n: number, first: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (first + i) & 0xff);
const hex = toHex;

/** Fixed ids: S the device scope, F the fleet scope, then command ids. */
const S = fill(32, 0x11);
const F = fill(32, 0x22);
const H1 = fill(32, 0x33);
const H2 = fill(32, 0x44);
const M1 = fill(32, 0x55);
const M2 = fill(32, 0x66);
const DEVICE = 'device/6a3803d5f059902a';
const FLEET = 'fleet/test';
/** The §3.1 answer to a Hello of version `v`. */
const versionText = (v: number): string => `protocol version ${v} is not supported; this peer speaks version ${PROTOCOL_VERSION_2}`;

interface Case {
  name: string;
  description: string;
  message: MessageV2;
  extra?: Record<string, unknown>;
}

/** `{ 'messages-v2.json': … }`: every v2 message of §3.2, decode-only forms and rejects. */
export function messagesV2Vectors(): Record<string, unknown> {
  const A = identityFromSecret(fill(32, 0x01));
  const B = identityFromSecret(fill(32, 0x02));
  const helloA: MessageV2 = { type: 'Hello', version: PROTOCOL_VERSION_2, public_key: A.publicKey, max_frame: 4096, caps: Capability.Push | Capability.BareCommand | Capability.Seal, nonce: seq(16, 0x10), ephemeral: ephemeralFromSecret(fill(32, 0x11)).publicKey };
  const helloB: MessageV2 = { type: 'Hello', version: PROTOCOL_VERSION_2, public_key: B.publicKey, max_frame: 65536, caps: Capability.Push, nonce: seq(16, 0x20), ephemeral: ephemeralFromSecret(fill(32, 0x22)).publicKey };
  const transcript = authTranscriptV2(encodeMessageV2(helloA), encodeMessageV2(helloB));
  // One real command of the device scope (author B, parent H1, payload 00..63), for items and pushes.
  const cmd = encodeCommandV2(S, { parents: [H1], author: B.author, seq: 1, kind: CommandKind.Data, payload: seq(100, 0) }, B.sign);
  // A horizon record item [id, depth, frontier]: the pruned parent H1 at depth 41, F(H1) = {M1, M2}.
  const record = encodeCbor([H1, 41, [M1, M2]]);
  const cases: Case[] = [
    { name: 'hello_a', description: 'A opens the link: version 2, max_frame 4096, caps Push|BareCommand|Seal, ephemeral from secret 0x11×32', message: helloA },
    { name: 'hello_b', description: 'B opens the link: max_frame 65536, caps Push, ephemeral from secret 0x22×32', message: helloB },
    {
      name: 'auth_b',
      description: "B answers A's challenge: ed25519 by B over authTranscriptV2(hello_a's cbor, hello_b's cbor)",
      message: { type: 'Auth', signature: B.sign(transcript) },
      extra: { auth: { challenger_hello: hex(encodeMessageV2(helloA)), signer_hello: hex(encodeMessageV2(helloB)), signer_key: hex(B.publicKey), transcript: hex(transcript) } },
    },
    { name: 'scopes_open', description: "the gateway opens the device scope as its number 0 (design §3.3's example, 65 bytes)", message: { type: 'Scopes', seq: 0, open: [[0, S, DEVICE]], close: [] } },
    { name: 'scopes_open_close', description: 'seq 1: opens the fleet scope as number 1 and closes number 0', message: { type: 'Scopes', seq: 1, open: [[1, F, FLEET]], close: [0] } },
    { name: 'scopes_ack', description: 'seq 0 acknowledged, every entry accepted', message: { type: 'ScopesAck', seq: 0, refused: [] } },
    {
      name: 'scopes_ack_refused',
      description: 'seq 4 acknowledged with three refusals: NotAMember, ScopeDeclined, TooManyScopes',
      message: { type: 'ScopesAck', seq: 4, refused: [[2, ReasonCode.NotAMember], [3, ReasonCode.ScopeDeclined], [4, ReasonCode.TooManyScopes]] },
    },
    { name: 'poll_request_window', description: "design §3.3's poll: the gateway's number 0, session 7, budget 4096, one head, empty sample, window 64 (45 bytes)", message: { type: 'PollRequest', scope: 0, session: 7, max_bytes: 4096, heads: [S], sample: [], window: 64 } },
    { name: 'poll_request', description: 'scope 1, window 0 (everything I lack); the sample names a head and a horizon entry', message: { type: 'PollRequest', scope: 1, session: 8, max_bytes: 65536, heads: [H2], sample: [H1, M1], window: 0 } },
    {
      name: 'poll_response_gap_record',
      description: 'gap: a horizon record item (0x83: H1, depth 41, frontier [M1, M2]) then the command whose parent it is (0x86)',
      message: { type: 'PollResponse', scope: 0, session: 7, more: false, gap: true, total: 40, next_poll_ms: 0, heads: [cmd.id], items: [record, cmd.bytes] },
      extra: { command_id: hex(cmd.id), command_scope_id: hex(S) },
    },
    { name: 'poll_response_empty', description: 'nothing missing; come back in 1500 ms', message: { type: 'PollResponse', scope: 1, session: 8, more: false, gap: false, total: 40, next_poll_ms: 1500, heads: [H2], items: [] } },
    // Poll trains (PROTOCOL.md §10.6): the optional trailing fields before the one set are written (elide false, batch null).
    { name: 'poll_request_train', description: 'scope 1 asks for a train of up to MAX_TRAIN_BYTES (1 MiB) in answers of 65536 bytes (field 7 elide false, field 8 train_bytes)', message: { type: 'PollRequest', scope: 1, session: 9, max_bytes: 65536, heads: [H2], sample: [], window: 0, elide: false, train_bytes: MAX_TRAIN_BYTES } },
    { name: 'poll_request_segment', description: 'scope 1 asks for covered commands without their signatures in segments of up to 65536 bytes (field 7 elide true, field 8 train_bytes 0: one answer, field 9 segment)', message: { type: 'PollRequest', scope: 1, session: 10, max_bytes: 65536, heads: [H2], sample: [], window: 0, elide: true, train_bytes: 0, segment: 65536 } },
    { name: 'poll_response_train', description: "an answer of session 9's train: more true, train true (another PollResponse of session 9 follows); field 9 batch null", message: { type: 'PollResponse', scope: 1, session: 9, more: true, gap: false, total: 40, next_poll_ms: 1500, heads: [cmd.id], items: [cmd.bytes], batch: null, train: true } },
    { name: 'poll_response_train_last', description: "the train's last answer: more false, train false (it answers the poll)", message: { type: 'PollResponse', scope: 1, session: 9, more: false, gap: false, total: 40, next_poll_ms: 1500, heads: [cmd.id], items: [], batch: null, train: false } },
    { name: 'subscribe', description: 'subscribe to scope 300 for an hour with a 1 MB budget, via one other agent', message: { type: 'Subscribe', scope: 300, remain_open: 3600, max_bytes: 1_000_000, sample: [H2], via: [A.author] } },
    { name: 'subscribe_ack', description: 'granted 600 s and the full budget for scope 300', message: { type: 'SubscribeAck', scope: 300, remain_open: 600, max_bytes: 1_000_000 } },
    { name: 'unsubscribe_scope_0', description: 'close the subscription to scope 0: 82 07 00', message: { type: 'Unsubscribe', scope: 0 } },
    { name: 'push', description: 'one command of scope 0, budget left 999000', message: { type: 'Push', scope: 0, remaining: 999_000, exhausted: false, commands: [cmd.bytes] } },
    { name: 'push_exhausted', description: 'the budget stopped the push short: Error BudgetExhausted follows', message: { type: 'Push', scope: 0, remaining: 40, exhausted: true, commands: [] } },
    { name: 'error_busy_scoped', description: 'a scoped refusal carries the receiver\'s scope number (§3.7)', message: { type: 'Error', code: ReasonCode.Busy, message: 'busy', retry_after_ms: 250, scope: 1 } },
    { name: 'error_unknown_scope', description: 'UnknownScope: scope is the number exactly as the refused message carried it', message: { type: 'Error', code: ReasonCode.UnknownScope, message: 'unknown scope 9', retry_after_ms: null, scope: 9 } },
    { name: 'error_not_a_member', description: 'NotAMember for scope 0; the refuser closes the scope toward the sender', message: { type: 'Error', code: ReasonCode.NotAMember, message: 'not a member', retry_after_ms: null, scope: 0 } },
    { name: 'error_unauthorized', description: 'no scope: three fields (sent before the link is up)', message: { type: 'Error', code: ReasonCode.Unauthorized, message: 'key not trusted', retry_after_ms: null } },
    {
      name: 'error_unsupported_version',
      description: "the pre-up answer to a v1 Hello (answers = messages.json hello_a): exactly three fields, unsealed, then the link closes (§3.1)",
      message: { type: 'Error', code: ReasonCode.UnsupportedVersion, message: versionText(1), retry_after_ms: null },
      extra: { answers: hex(encodeCbor([0, 1, A.publicKey, 4096, Capability.Push | Capability.BareCommand, seq(16, 0x10)])) },
    },
  ];
  const decodeOnly = [
    { name: 'bare_push_scope_0', description: 'the 7-element bare push of push\'s command to scope 0 (§3.6) is that Push', cbor: encodeBarePushV2(cmd.bytes, 0) },
    { name: 'bare_push_scope_300', description: 'the same command to scope 300 (a 3-byte scope number)', cbor: encodeBarePushV2(cmd.bytes, 300) },
    { name: 'unsubscribe_with_trailing_field', description: 'a newer peer appended a field', cbor: encodeCbor([7, 0, 'future']) },
    { name: 'error_scope_with_trailing_field', description: 'a field after scope is ignored', cbor: encodeCbor([9, ReasonCode.Busy, 'busy', 250, 1, [0]]) },
    { name: 'hello_v1_with_ephemeral', description: 'a complete Hello of version 1 decodes (the session refuses its version, §3.1)', cbor: encodeCbor([0, 1, A.publicKey, 4096, 0, seq(16, 0x10), fill(32, 0x99)]) },
    { name: 'poll_response_unknown_item', description: 'an item with a reserved first byte (0x99) passes the envelope; the poll handler drops it and counts Malformed (§3.5)', cbor: encodeCbor([4, 0, 7, false, false, 40, 0, [], [Uint8Array.of(0x99, 0)]]) },
  ].map((c) => ({ name: c.name, description: c.description, cbor: hex(c.cbor), message: toReadable(decodeMessageV2(c.cbor)) }));
  const entry = (n: number, name = FLEET) => [n, F, name];
  const rejects: Array<{ name: string; reason: string; hex: string }> = [
    { name: 'type 2 (v1 Keys) is not defined', reason: 'Malformed', hex: hex(encodeCbor([2, [A.publicKey]])) },
    { name: 'type 12 is not defined', reason: 'Malformed', hex: hex(encodeCbor([12])) },
    { name: 'Scopes open number 65,536', reason: 'Malformed', hex: hex(encodeCbor([10, 0, [entry(MAX_SCOPE_NUMBER + 1)], []])) },
    { name: 'Scopes close number 65,536', reason: 'Malformed', hex: hex(encodeCbor([10, 0, [], [MAX_SCOPE_NUMBER + 1]])) },
    { name: '9 open entries', reason: 'Malformed', hex: hex(encodeCbor([10, 0, Array.from({ length: MAX_SCOPES_OPEN + 1 }, (_, i) => entry(i)), []])) },
    { name: '17 close entries', reason: 'Malformed', hex: hex(encodeCbor([10, 0, [], Array.from({ length: MAX_SCOPES_CLOSE + 1 }, (_, i) => i)])) },
    { name: 'scope name with an upper-case letter', reason: 'Malformed', hex: hex(encodeCbor([10, 0, [entry(0, 'Fleet/test')], []])) },
    { name: 'scope name of 65 characters', reason: 'Malformed', hex: hex(encodeCbor([10, 0, [entry(0, 'a'.repeat(MAX_SCOPE_NAME + 1))], []])) },
    { name: 'ScopesAck refused entry without its reason', reason: 'Malformed', hex: hex(encodeCbor([11, 0, [[2]]])) },
    { name: 'PollRequest segment 1,023 (below SEGMENT_BYTES)', reason: 'Malformed', hex: hex(encodeCbor([3, 1, 10, 65536, [H2], [], 0, true, 0, 1023])) },
    { name: 'PollRequest without window (the v1 shape)', reason: 'Malformed', hex: hex(encodeCbor([3, 0, 7, 4096, [S], []])) },
    { name: 'Unsubscribe without scope (the v1 shape)', reason: 'Malformed', hex: '8107' },
    { name: 'non-canonical scope number (0x18 0x00 for 0)', reason: 'Malformed', hex: '82071800' },
    { name: 'Hello version 2 without ephemeral', reason: 'Malformed', hex: hex(encodeCbor([0, 2, A.publicKey, 4096, 0, seq(16, 0x10)])) },
    { name: 'the v1 Hello (messages.json hello_a): version first', reason: 'UnsupportedVersion', hex: hex(encodeCbor([0, 1, A.publicKey, 4096, Capability.Push | Capability.BareCommand, seq(16, 0x10)])) },
    { name: 'bare push with 6 elements (a command alone)', reason: 'Malformed', hex: hex(cmd.bytes) },
    { name: 'bare push over 1,029 bytes', reason: 'TooLarge', hex: hex(encodeCbor([[], B.author, 0, 0, fill(MAX_COMMAND_BYTES, 1), fill(64, 1), 0])) },
    { name: 'PollResponse item of 1,025 bytes', reason: 'Malformed', hex: hex(encodeCbor([4, 0, 7, false, false, 0, 0, [], [fill(MAX_COMMAND_BYTES + 1, 0x86)]])) },
  ];
  const itemRejects: Array<{ name: string; reason: string; hex: string }> = [
    { name: 'horizon record depth 2^31', reason: 'Malformed', hex: hex(encodeCbor([H1, 2 ** 31, [M1]])) },
    { name: 'horizon record frontier unsorted', reason: 'Malformed', hex: hex(encodeCbor([H1, 41, [M2, M1]])) },
    { name: 'horizon record with 17 frontier entries', reason: 'Malformed', hex: hex(encodeCbor([H1, 41, Array.from({ length: 17 }, (_, i) => fill(32, i))])) },
  ];
  return {
    'messages-v2.json': {
      description:
        'Protocol version 2 messages (docs/design/v2-scopes.md §3). message = readable form (byte strings as {"$hex": "..."}, CBOR null as null; tuples as arrays); ' +
        'cbor = the message encoding (a frame body or one MQTT payload; framing is as v1, see frames.json). ' +
        'decode_only: decoders must accept these and produce message (bare pushes, trailing fields). rejects: decodeMessageV2 must refuse with reason. ' +
        'item_rejects: poll answer items (first byte 0x83) that are not valid horizon records; the item is dropped and counted with reason, the message still decodes.',
      cases: cases.map((c) => {
        const cbor = encodeMessageV2(c.message);
        return { name: c.name, description: c.description, message: toReadable(decodeMessageV2(cbor)), cbor: hex(cbor), ...c.extra };
      }),
      decode_only: decodeOnly,
      rejects,
      item_rejects: itemRejects,
    },
  };
}
