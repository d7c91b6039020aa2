/**
 * The serial link layer's vectors (docs/PROTOCOL.md §2.1.1, `arq.json`) both ways: ARQ frames
 * parse to their fields and their fields encode to the same bytes; the worked ARQ exchange replays
 * on fresh endpoints with identical outputs and deliveries. Also the serial receive-buffer bound
 * of §2.1. (Frames: test/protocol-vectors.test.ts; the v2 message, command, membership, horizon
 * and seal vectors: test/vectors-*.test.ts.)
 */
import t from 'tap';
import { fromHex, toHex } from '../protocol/keys.js';
import { isArqFrame } from '../protocol/serial-arq.js';
import { SerialFrameDecoder, encodeSerialFrame } from '../protocol/serial-frame.js';
import { ARQ_EXCHANGE_OPTIONS, readArqFrame, scriptedEndpoint, writeArqFrame, type ArqFrameFields, type ArqStep } from '../scripts/arq-vectors.js';
import { loadVectors as load } from '../testkit/vectors.js';

interface ArqFile {
  frames: Array<{ name: string; body: string; serial_frame: string; fields: ArqFrameFields }>;
  exchange: { options: typeof ARQ_EXCHANGE_OPTIONS; steps: ArqStep[] };
}
const arq = load<ArqFile>('arq.json');

t.test('ARQ frame vectors: bytes → fields and fields → bytes', async (t) => {
  const kinds = new Set<string>();
  for (const f of arq.frames) {
    const body = fromHex(f.body);
    t.ok(isArqFrame(body), `${f.name}: an ARQ frame, not a message`);
    t.same(readArqFrame(body), f.fields, `${f.name}: decode`);
    t.equal(toHex(writeArqFrame(f.fields)), f.body, `${f.name}: encode`);
    t.equal(toHex(encodeSerialFrame(body)), f.serial_frame, `${f.name}: serial frame`);
    t.same(new SerialFrameDecoder().push(fromHex(f.serial_frame)).frames.map(toHex), [f.body], `${f.name}: serial decode`);
    kinds.add(f.fields.kind);
  }
  t.same([...kinds].sort(), ['ACK', 'DATA', 'FRAG', 'RST'], 'one vector per frame kind at least');
  const sack = arq.frames.find((f) => f.fields.kind === 'ACK' && f.fields.sack !== 0);
  t.ok(sack, 'an ACK with SACK bits');
});

t.test('ARQ worked exchange replays byte for byte on fresh endpoints', async (t) => {
  const { options, steps } = arq.exchange;
  t.same(options, ARQ_EXCHANGE_OPTIONS, 'endpoint options as documented');
  const ends = { S: scriptedEndpoint(options.S), R: scriptedEndpoint(options.R) };
  const seen = new Set<string>();
  const sent = new Set(steps.flatMap((s) => (s.call === 'send' ? [s.message] : [])));
  let delivered = 0;
  for (const [i, s] of steps.entries()) {
    const what = `step ${i} (${s.side} ${s.call} at ${s.at})`;
    switch (s.call) {
      case 'send':
        ends[s.side].send(fromHex(s.message));
        break;
      case 'reset':
        ends[s.side].reset();
        break;
      case 'poll': {
        const out = ends[s.side].poll(s.at);
        t.same(out.map(toHex), s.out.map((o) => o.body), `${what}: frames sent`);
        for (const o of s.out) {
          t.same(readArqFrame(fromHex(o.body)), o.fields, `${what}: fields`);
          seen.add(o.fields.kind);
        }
        break;
      }
      case 'receive': {
        const got = ends[s.side].receive(fromHex(s.body), s.at);
        t.same(got.map(toHex), s.delivered, `${what}: delivered`);
        for (const m of got) t.ok(sent.has(toHex(m)), `${what}: delivers a message that was sent`);
        delivered += got.length;
        break;
      }
    }
  }
  t.same([...seen].sort(), ['ACK', 'DATA', 'FRAG', 'RST'], 'the exchange shows every frame kind');
  t.equal(delivered, 3, 'three messages delivered, each once');
  t.ok(steps.some((s) => s.call === 'poll' && s.out.some((o) => o.lost)), 'a chunk is lost on the line');
  t.equal(ends.S.queuedBytes, 0, 'nothing left unacknowledged');
});

t.test('serial receive buffer bound (PROTOCOL.md §2.1 rule 4): B = n + ⌊n / 254⌋ + 1 with n = M + 4', async (t) => {
  const M = 65536;
  const n = M + 4;
  const B = n + Math.floor(n / 254) + 1;
  t.equal(B, 65799, 'the figure the spec states');
  // A body of M non-zero bytes whose CRC has no zero byte either is the worst case: exactly B.
  let body = new Uint8Array(M);
  for (let salt = 0; ; salt++) {
    body = Uint8Array.from({ length: M }, (_, i) => ((i + salt) % 255) + 1);
    const frame = encodeSerialFrame(body);
    if (frame.length - 1 === B) break;
    if (salt > 300) throw new Error('no zero-free CRC found');
  }
  const ok = new SerialFrameDecoder(M).push(encodeSerialFrame(body));
  t.same([ok.frames.length, ok.errors.length], [1, 0], 'a candidate of exactly B bytes is accepted');
  const over = new SerialFrameDecoder(M).push(new Uint8Array(B + 1).fill(0x01));
  t.same(over.errors, [], 'nothing reported before the delimiter');
  const end = new SerialFrameDecoder(M);
  end.push(new Uint8Array(B + 1).fill(0x01));
  const r = end.push(Uint8Array.of(0x00));
  t.same(r.errors.map((e) => e.reason), ['TooLarge'], 'a candidate of B + 1 bytes is discarded as TooLarge');
});

