/**
 * The CBOR subset (protocol/cbor.ts): canonical integers and lengths only, no tags, floats or
 * indefinite lengths, depth 4 at most, copies out; and a fast-check round trip of the subset
 * where any mutation decodes canonically or fails typed.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  decodeCbor,
  encodeCbor,
  fromHex,
  SyncwireError,
  type CborValue,
  toHex,
} from '../protocol/index.js';
import { reasonOf, toReadable } from '../testkit/vectors.js';

t.test('CBOR: canonical integers and lengths, subset, depth', async (t) => {
  const cases: Array<[string, string]> = [
    ['1817', '23 in two bytes'],
    ['1900ff', '255 in three bytes'],
    ['1a0000ffff', '65535 in five bytes'],
    ['1b00000000ffffffff', '2^32-1 in nine bytes'],
    ['3817', '-24 in two bytes'],
    ['5801ff', 'one-byte string with a 1-byte length'],
    ['780161', 'one-char text with a 1-byte length'],
    ['9801' + '00', 'one-element array with a 1-byte length'],
    ['1b0020000000000000', '2^53 (above the safe range)'],
    ['1c', 'reserved additional info 28'],
    ['5f4101ff', 'indefinite byte string'],
    ['c0' + '00', 'tag 0'],
    ['f4f5', 'two items'],
    ['fa00000000', 'float32'],
    ['f820', 'simple value 32'],
  ];
  for (const [h, name] of cases) t.equal(reasonOf(() => decodeCbor(fromHex(h))), 'Malformed', name);
  // 8-byte integers decode to exact numbers, not bigint.
  t.equal(decodeCbor(fromHex('1b0000000100000000')), 2 ** 32);
  t.equal(decodeCbor(fromHex('1b001fffffffffffff')), Number.MAX_SAFE_INTEGER);
  t.equal(decodeCbor(fromHex('3b001ffffffffffffe')), -Number.MAX_SAFE_INTEGER);
  t.same(decodeCbor(fromHex('81818180')), [[[[]]]], 'depth 4 accepted');
  t.same(decodeCbor(fromHex('83f6f4f5')), [null, false, true], 'null, false, true');
  t.equal(decodeCbor(encodeCbor('\ufeffx')), '\ufeffx', 'a leading BOM in a text string is kept (canonical round trip)');
  t.equal(reasonOf(() => decodeCbor(fromHex('8181818180'))), 'Malformed', 'depth 5 refused');
  // Byte strings come out as plain Uint8Array copies.
  const input = fromHex('820043010203');
  const v = decodeCbor(input) as Uint8Array[];
  t.equal(v[1]!.constructor, Uint8Array);
  input[4] = 0xff;
  t.same([...v[1]!], [1, 2, 3], 'decoded bytes do not alias the input');
  for (const n of [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1]) {
    t.doesNotThrow(() => decodeCbor(encodeCbor([n, -n - 1, 'x'.repeat(n % 300), new Uint8Array(n % 1000)])), `encoder output canonical for ${n}`);
  }
});

t.test('property: the CBOR codec round-trips its subset; a mutated encoding decodes canonically or fails typed', async (t) => {
  const { value } = fc.letrec<{ value: CborValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.maxSafeInteger(),
      fc.integer({ min: -70000, max: 70000 }),
      fc.boolean(),
      fc.constant(null),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.array(tie('value'), { maxLength: 6 }),
    ),
  }));
  const depth = (v: CborValue): number => (Array.isArray(v) ? 1 + Math.max(0, ...v.map(depth)) : 0);
  fc.assert(
    fc.property(value.filter((v) => depth(v) <= 4), fc.nat(), fc.integer({ min: 1, max: 255 }), (v, at, xor) => {
      const bytes = encodeCbor(v);
      if (JSON.stringify(toReadable(decodeCbor(bytes))) !== JSON.stringify(toReadable(v))) return false;
      const bad = Uint8Array.from(bytes);
      bad[at % bad.length]! ^= xor;
      try {
        return toHex(encodeCbor(decodeCbor(bad))) === toHex(bad);
      } catch (err) {
        return err instanceof SyncwireError;
      }
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 runs');
});
