/**
 * `unsignedInto` (protocol/command-v2.ts) writes the unsigned 5-array straight into the buffer
 * that becomes the command: it must be byte for byte the generic encoder's canonical CBOR, for
 * every head size (parents 0..16, seq across the 1/2/3/5-byte heads, payloads across 1/2/3-byte heads).
 */
import fc from 'fast-check';
import t from 'tap';
import { encodeCbor } from '../protocol/cbor.js';
import { unsignedInto } from '../protocol/command-v2.js';
import { CommandKind, type CommandKindValue } from '../protocol/constants-v2.js';
import { toHex } from '../protocol/keys.js';

t.test('property: unsignedInto = encodeCbor([parents, author, seq, kind, payload]), then tail bytes of 0', async (t) => {
  const seq = fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 70_000 }), fc.constantFrom(23, 24, 255, 256, 65535, 65536, 0xffffffff));
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 16 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      seq,
      fc.constantFrom<CommandKindValue>(CommandKind.Data, CommandKind.Genesis, CommandKind.Membership),
      fc.oneof(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ minLength: 250, maxLength: 300 })),
      fc.constantFrom(0, 1, 66),
      (parents, author, s, kind, payload, tail) => {
        const got = unsignedInto({ parents, author, seq: s, kind, payload }, tail);
        const want = encodeCbor([parents, author, s, kind, payload]);
        return got.length === want.length + tail && toHex(got.subarray(0, want.length)) === toHex(want) && got.subarray(want.length).every((b) => b === 0);
      },
    ),
    { numRuns: 500 },
  );
  t.pass('500 random field sets');
});
