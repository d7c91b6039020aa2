/**
 * ARQ frame bodies (protocol/arq/wire.ts): typed encode/decode round trips both ways, every
 * malformed case the spec lists (PROTOCOL.md §2.1.1), and FRAG splitting.
 */
import t from 'tap';
import fc from 'fast-check';
import {
  ARQ_ACK_BYTES, ARQ_DATA_HEADER, ARQ_FRAG_HEADER, ARQ_MAX_CHUNK, ARQ_RST_BYTES,
  type ArqFrame, type ArqFrameProblem, decodeArqFrame, encodeArqFrame, encodeChunk, isArqFrame,
} from '../protocol/arq/wire.js';

const u8 = fc.integer({ min: 0, max: 255 });
const chunkData = (max = 64) => fc.uint8Array({ minLength: 1, maxLength: max });

/** Any well-formed frame (FRAG offsets within `total`, START only with seq 0). */
const frame: fc.Arbitrary<ArqFrame> = fc.oneof(
  fc.record({ epoch: u8, seq: u8, last: fc.boolean(), start: fc.boolean(), data: chunkData() }).map(
    ({ seq, start, ...r }): ArqFrame => ({ kind: 'data', ...r, start, seq: start ? 0 : seq }),
  ),
  fc
    .record({ epoch: u8, seq: u8, last: fc.boolean(), start: fc.boolean(), data: chunkData(), slack: fc.integer({ min: 0, max: 200 }), pad: fc.integer({ min: 0, max: 200 }) })
    .map(({ seq, start, slack, pad, ...r }): ArqFrame => {
      const total = Math.min(ARQ_MAX_CHUNK, r.data.length + slack + pad);
      return { kind: 'frag', ...r, start, seq: start ? 0 : seq, offset: Math.min(slack, total - r.data.length), total };
    }),
  fc.record({ epoch: u8, next: u8, sack: fc.integer({ min: 0, max: 0xffffffff }) }).map((r): ArqFrame => ({ kind: 'ack', ...r })),
  u8.map((epoch): ArqFrame => ({ kind: 'rst', epoch })),
);

/** Comparable form: keys sorted, bytes as hex. */
const plain = (f: object): string =>
  JSON.stringify(Object.entries(f).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v]));

t.test('decode(encode(frame)) is the frame, and the body is an ARQ frame', (t) => {
  fc.assert(
    fc.property(frame, (f) => {
      const body = encodeArqFrame(f);
      return isArqFrame(body) && plain(decodeArqFrame(body)) === plain(f);
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 frames of every kind round-trip');
  t.end();
});

t.test('any bytes: decode never throws; what decodes encodes back to the same bytes', (t) => {
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 24 }),
    // Mostly ARQ-looking first bytes, so every kind and every length rule is reached.
    fc.tuple(fc.integer({ min: 0, max: 0x11 }), fc.uint8Array({ maxLength: 24 })).map(([k, rest]) => Uint8Array.of(k, ...rest)),
    // FRAG heads with small offsets and totals, so the bounds are hit from both sides.
    fc
      .tuple(fc.integer({ min: 0, max: 7 }), u8, u8, fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }), fc.uint8Array({ maxLength: 24 }))
      .map(([flags, epoch, seq, off, total, rest]) => Uint8Array.of(0x09 | (flags & 0x06), epoch, seq, 0, off, 0, total, ...rest)),
  );
  const kinds = new Set<string>();
  fc.assert(
    fc.property(body, (b) => {
      const f = decodeArqFrame(b);
      kinds.add(f.kind);
      if (f.kind === 'malformed') return true;
      return isArqFrame(b) && Buffer.from(encodeArqFrame(f)).equals(Buffer.from(b));
    }),
    { numRuns: 5000 },
  );
  t.same([...kinds].sort(), ['ack', 'data', 'frag', 'malformed', 'rst'], 'every kind was reached');
  t.end();
});

t.test('the layout of each kind (PROTOCOL.md §2.1.1)', (t) => {
  const d = encodeArqFrame({ kind: 'data', epoch: 0x5a, seq: 0, last: true, start: true, data: Uint8Array.of(0x85, 1) });
  t.same([...d], [0x07, 0x5a, 0, 0x85, 1], 'DATA | LAST | START, epoch, seq, data');
  t.equal(d.length, ARQ_DATA_HEADER + 2);
  const f = encodeArqFrame({ kind: 'frag', epoch: 1, seq: 9, last: false, start: false, offset: 0x0102, total: 0x0304, data: Uint8Array.of(7) });
  t.same([...f], [0x09, 1, 9, 1, 2, 3, 4, 7], 'FRAG: offset and total big-endian');
  t.equal(f.length, ARQ_FRAG_HEADER + 1);
  const a = encodeArqFrame({ kind: 'ack', epoch: 2, next: 200, sack: 0x80000001 });
  t.same([...a], [0x02, 2, 200, 0x80, 0, 0, 1], 'ACK: sack big-endian');
  t.equal(a.length, ARQ_ACK_BYTES);
  t.same([...encodeArqFrame({ kind: 'rst', epoch: 3 })], [0x04, 3]);
  t.equal(ARQ_RST_BYTES, 2);
  t.notOk(isArqFrame(Uint8Array.of(0x85, 1)), 'a CBOR array head is a plain message');
  t.notOk(isArqFrame(Uint8Array.of(0x01)), 'a 1-byte body is no ARQ frame');
  t.end();
});

t.test('each malformed case is refused with its reason', (t) => {
  const big = new Uint8Array(ARQ_MAX_CHUNK + 1);
  const cases: Array<[string, Uint8Array, ArqFrameProblem]> = [
    ['empty', new Uint8Array(0), 'short'],
    ['one byte', Uint8Array.of(0x02), 'short'],
    ['DATA without data', Uint8Array.of(0x01, 0, 0), 'short'],
    ['FRAG without data', Uint8Array.of(0x09, 0, 0, 0, 0, 0, 1), 'short'],
    ['first byte 0x10', Uint8Array.of(0x10, 0, 0), 'unknown-kind'],
    ['first byte 0x06', Uint8Array.of(0x06, 0), 'unknown-kind'],
    ['first byte 0x00', Uint8Array.of(0x00, 0), 'unknown-kind'],
    ['ACK of 6 bytes', Uint8Array.of(0x02, 0, 0, 0, 0, 0), 'bad-length'],
    ['ACK of 8 bytes', Uint8Array.of(0x02, 0, 0, 0, 0, 0, 0, 0), 'bad-length'],
    ['RST of 3 bytes', Uint8Array.of(0x04, 0, 0), 'bad-length'],
    ['START with seq 1', Uint8Array.of(0x05, 0, 1, 9), 'start-not-seq0'],
    ['DATA over 4096 bytes', Uint8Array.of(0x01, 0, 0, ...big), 'chunk-too-large'],
    ['FRAG total over 4096', Uint8Array.of(0x09, 0, 0, 0, 0, 0x10, 0x01, 9), 'chunk-too-large'],
    ['FRAG past its total', Uint8Array.of(0x09, 0, 0, 0, 3, 0, 4, 9, 9), 'frag-out-of-range'],
  ];
  for (const [what, body, problem] of cases) t.same(decodeArqFrame(body), { kind: 'malformed', problem }, what);
  t.end();
});

t.test('encode refuses fields that could not be decoded', (t) => {
  const data = Uint8Array.of(1);
  t.throws(() => encodeArqFrame({ kind: 'rst', epoch: 256 }), RangeError, 'epoch over a byte');
  t.throws(() => encodeArqFrame({ kind: 'ack', epoch: 0, next: -1, sack: 0 }), RangeError, 'negative next');
  t.throws(() => encodeArqFrame({ kind: 'ack', epoch: 0, next: 0, sack: 2 ** 32 }), RangeError, 'sack over u32');
  t.throws(() => encodeArqFrame({ kind: 'data', epoch: 0, seq: 1, last: false, start: true, data }), RangeError, 'START with seq 1');
  t.throws(() => encodeArqFrame({ kind: 'data', epoch: 0, seq: 0, last: false, start: false, data: new Uint8Array(0) }), RangeError, 'no data');
  t.throws(() => encodeArqFrame({ kind: 'frag', epoch: 0, seq: 0, last: false, start: false, offset: 4, total: 4, data }), RangeError, 'past total');
  t.end();
});

t.test('encodeChunk: one DATA, or FRAGs of the given size that rebuild the chunk', (t) => {
  fc.assert(
    fc.property(chunkData(600), fc.integer({ min: 1, max: 700 }), u8, fc.boolean(), (data, size, epoch, last) => {
      const frames = encodeChunk({ epoch, seq: 0, last, start: true, data }, size).map(decodeArqFrame);
      if (data.length <= size) return frames.length === 1 && frames[0]!.kind === 'data';
      if (frames.length !== Math.ceil(data.length / size)) return false;
      const rebuilt = new Uint8Array(data.length);
      for (const [i, f] of frames.entries()) {
        if (f.kind !== 'frag' || f.offset !== i * size || f.total !== data.length || f.last !== last || !f.start) return false;
        rebuilt.set(f.data, f.offset);
      }
      return Buffer.from(rebuilt).equals(Buffer.from(data));
    }),
    { numRuns: 500 },
  );
  t.pass('500 chunks split and rebuilt');
  t.equal(encodeChunk({ epoch: 1, seq: 2, last: false, start: false, data: new Uint8Array(ARQ_MAX_CHUNK) }).length, 1, 'without a size: one DATA');
  t.end();
});
