/**
 * Stream framing: serial frames (protocol/serial-frame.ts: COBS + CRC, caps, resync, the worst-
 * case length), TCP frames (tcp-frame.ts: lengths, the fatal state) and COBS (cobs.ts), with
 * fast-check streams split anywhere.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  cobsDecode,
  cobsEncode,
  cobsMaxEncodedLength,
  encodeSerialFrame,
  encodeTcpFrame,
  MAX_FRAME_BYTES,
  SerialFrameDecoder,
  serialFrameLength,
  SyncwireError,
  TcpFrameDecoder,
  toHex,
} from '../protocol/index.js';
import { reasonOf } from '../testkit/vectors.js';
import { concat } from '../testkit/bytes.js';

t.test('serial framing: caps, resync, reset', async (t) => {
  // Zero-rich blocks pack more body into the decoder's buffer than its worst-case sizing assumes:
  // a body a few bytes over the cap must still be refused.
  const cap = 1000;
  for (let n = cap - 2; n <= cap + 6; n++) {
    const r = new SerialFrameDecoder(cap).push(encodeSerialFrame(new Uint8Array(n)));
    if (n <= cap) t.same(r.frames.map((f) => f.length), [n], `${n} zero bytes accepted`);
    else t.same([r.frames.length, r.errors.map((e) => e.reason)], [0, ['TooLarge']], `${n} zero bytes refused`);
  }
  const d = new SerialFrameDecoder();
  const f = encodeSerialFrame(Uint8Array.of(1, 2, 3));
  t.same(d.push(f.subarray(0, 3)).frames, [], 'partial frame buffered');
  d.reset();
  t.same(d.push(f).frames.map(toHex), ['010203'], 'reset dropped the partial frame');
  t.same(d.push(Uint8Array.of(0, 0, 0)), { frames: [], errors: [], fatal: false }, 'empty frames ignored');
  t.same(d.push(concat(Uint8Array.of(0x02, 0x01, 0x00), f)).errors.map((e) => e.reason), ['Malformed'], 'too-short frame reported');
  t.equal(reasonOf(() => encodeSerialFrame(new Uint8Array(MAX_FRAME_BYTES + 1))), 'TooLarge');
  t.same(new SerialFrameDecoder().push(encodeSerialFrame(new Uint8Array(MAX_FRAME_BYTES).fill(0xaa))).frames.map((x) => x.length), [MAX_FRAME_BYTES], 'largest frame');
  // Worst case (no zero byte in body+CRC): 6 bytes of overhead up to 249-byte bodies, then one more per 254.
  t.same([249, 250, 503, 504].map(serialFrameLength), [249 + 6, 250 + 7, 503 + 7, 504 + 8], 'worst-case overhead');
  for (const n of [1, 100, 249, 250, 503, 504, 1000]) {
    const body = new Uint8Array(n).fill(0x5a);
    t.ok(encodeSerialFrame(body).length <= serialFrameLength(n), `${n}: within the bound`);
    t.equal(encodeSerialFrame(new Uint8Array(n)).length, n + 6, `${n} zero bytes: exactly 6`);
  }
});

t.test('tcp framing: lengths, fatal state, empty body', async (t) => {
  const d = new TcpFrameDecoder(100);
  const f = encodeTcpFrame(Uint8Array.of(9, 8, 7));
  t.same(f.subarray(0, 4), Uint8Array.of(0, 0, 0, 3), 'big-endian length');
  t.same(d.push(concat(f, encodeTcpFrame(new Uint8Array(0)), f)).frames.map(toHex), ['090807', '', '090807']);
  const over = d.push(Uint8Array.of(0, 0, 0, 101));
  t.same([over.fatal, over.errors.map((e) => e.reason)], [true, ['TooLarge']], 'length over cap is fatal');
  t.same(d.push(f), { frames: [], errors: [], fatal: true }, 'stays dead');
  d.reset();
  t.same(d.push(f).frames.map(toHex), ['090807'], 'reset revives it');
  t.same(d.push(Uint8Array.of(0, 0, 0, 100)).fatal, false, 'exactly the cap is fine');
});

/** Split `wire` at the given cut points (any positions, duplicates allowed). */
function splitAt(wire: Uint8Array, cuts: number[]): Uint8Array[] {
  const pos = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of pos) {
    out.push(wire.subarray(prev, p));
    prev = p;
  }
  out.push(wire.subarray(prev));
  return out;
}

t.test('property: serial frames split anywhere, with garbage between them, decode the same', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.option(fc.uint8Array({ maxLength: 12 }), { nil: undefined })), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      fc.boolean(),
      (items, cuts, leadingZero) => {
        // Garbage is whatever bytes up to the next delimiter: it is discarded (or reported), never merged.
        const parts: Uint8Array[] = leadingZero ? [Uint8Array.of(0)] : [];
        for (const [body, garbage] of items) {
          parts.push(encodeSerialFrame(body));
          if (garbage !== undefined) parts.push(garbage.map((x) => x || 1), Uint8Array.of(0));
        }
        const wire = concat(...parts);
        const d = new SerialFrameDecoder();
        const got: string[] = [];
        for (const chunk of splitAt(wire, cuts)) {
          const r = d.push(chunk);
          if (r.fatal || !r.errors.every((e) => e instanceof SyncwireError)) return false;
          got.push(...r.frames.map(toHex));
        }
        return JSON.stringify(got) === JSON.stringify(items.map(([b]) => toHex(b)));
      },
    ),
    { numRuns: 500 },
  );
  t.pass('500 runs');
});

t.test('property: TCP frames split anywhere decode the same', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 40 }), (bodies, cuts) => {
      const d = new TcpFrameDecoder();
      const got: string[] = [];
      for (const chunk of splitAt(concat(...bodies.map(encodeTcpFrame)), cuts)) got.push(...d.push(chunk).frames.map(toHex));
      return JSON.stringify(got) === JSON.stringify(bodies.map(toHex));
    }),
    { numRuns: 500 },
  );
  t.pass('500 runs');
});

t.test('property: COBS round trip, no zeros, bounded length', async (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 1200 }), fc.array(fc.constantFrom(0, 1, 0xff), { maxLength: 800 }).map((a) => Uint8Array.from(a))), (src) => {
      const enc = cobsEncode(src);
      return !enc.includes(0) && enc.length <= cobsMaxEncodedLength(src.length) && toHex(cobsDecode(enc)) === toHex(src);
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 runs');
});
