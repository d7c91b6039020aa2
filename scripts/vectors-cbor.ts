/**
 * CBOR-profile and envelope reject vectors (docs/PROTOCOL.md §3, §8.1; `cbor.json`): inputs every
 * version-2 message decoder MUST refuse, each with its reason — not an array, an unknown or
 * non-canonical type, a missing or mistyped field, integers above uint32, and every CBOR form
 * outside the profile (floats, maps, tags, `undefined`, indefinite lengths, absurd declared
 * lengths, nesting, trailing bytes, truncation). `make vectors` (scripts/gen-vectors.ts) writes
 * the file; test/vectors-cbor.test.ts checks every case against the decoder, and
 * test/cbor-crosscheck.test.ts against a second CBOR decoder.
 */
import { encodeCbor } from '../protocol/cbor.js';
import { MAX_FRAME_BYTES } from '../protocol/constants.js';
import { MessageTypeV2 } from '../protocol/message-type-v2.js';

/** One input a decoder must refuse. */
export interface CborReject {
  name: string;
  reason: 'Malformed';
  /** Whether the input is a CBOR-profile violation (§3), not only an envelope or schema one. */
  profile: boolean;
  hex: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);
const M = MessageTypeV2;

/** The reject cases, in a fixed order. */
export function cborRejects(): CborReject[] {
  const bad = (name: string, h: string, profile: boolean): CborReject => ({ name, reason: 'Malformed', profile, hex: h });
  return [
    bad('not an array (integer 7)', '07', false),
    bad('empty array', '80', false),
    bad('unknown message type 99', hex(encodeCbor([99])), false),
    bad('type as text', hex(encodeCbor(['Unsubscribe', 0])), false),
    bad('missing field (SubscribeAck without max_bytes)', hex(encodeCbor([M.SubscribeAck, 0, 600])), false),
    bad('wrong field type (Push.remaining as text)', hex(encodeCbor([M.Push, 0, 'x', false, []])), false),
    bad('integer above uint32 (SubscribeAck.max_bytes = 2^32)', '840600' + '190258' + '1b0000000100000000', false),
    bad('Hello.max_frame above MAX_FRAME_BYTES', hex(encodeCbor([M.Hello, 2, fill(32, 1), MAX_FRAME_BYTES + 1, 0, fill(16, 2), fill(32, 3)])), false),
    bad('PollRequest with 11 heads', hex(encodeCbor([M.PollRequest, 0, 1, 4096, new Array<Uint8Array>(11).fill(fill(32, 0xab)), [], 0])), false),
    bad('PollRequest head of 31 bytes', hex(encodeCbor([M.PollRequest, 0, 1, 4096, [fill(31, 1)], [], 0])), false),
    bad('Error text over 256 characters', hex(encodeCbor([M.Error, 1, 'x'.repeat(257), null])), false),
    bad('non-canonical type (0x18 0x07)', '82180700', true),
    bad('invalid UTF-8 in Error text', '84090162c328f6', true),
    bad('float (1.0 as float16)', '840600f93c001903e8', true),
    bad('map', 'a0', true),
    bad('tag 64 on a byte string', '8201d84041ff', true),
    bad('undefined (0xf7)', '8209f7', true),
    bad('indefinite-length array', '9f0700ff', true),
    bad('declared array length 2^32 (0x9b + 8 bytes)', '9b0000000100000000', true),
    bad('declared byte string length 2^53 (0x5b)', '5b0020000000000000', true),
    bad('nesting 5 deep', '8181818180', true),
    bad('trailing byte after the message', '82070000', true),
    bad('truncated', '840600190258', true),
  ];
}

/** `cbor.json`, keyed by file name (for scripts/gen-vectors.ts). */
export function cborVectors(): Record<string, unknown> {
  return {
    'cbor.json': {
      description:
        'Inputs every protocol-2 message decoder MUST refuse with reason (docs/PROTOCOL.md §3 CBOR profile, §8.1 envelope). ' +
        'profile = true: the bytes break the CBOR profile itself (so they are refused whatever message they would be); false: valid CBOR that is no valid message.',
      rejects: cborRejects(),
    },
  };
}
