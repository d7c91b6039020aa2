/**
 * The frame vectors of docs/vectors/frames.json (PROTOCOL.md §2) both ways: every body frames to
 * the stated bytes and every received stream decodes to the stated bodies and errors. (The ARQ
 * vectors: test/vectors-arq.test.ts; the v2 messages, commands, membership, horizon and seal
 * vectors: test/vectors-*.test.ts.)
 */
import { crc32 } from '../protocol/crc32.js';
import t from 'tap';
import { cobsEncode, encodeSerialFrame, encodeTcpFrame, fromHex, SerialFrameDecoder, TcpFrameDecoder, toHex } from '../protocol/index.js';
import { loadVectors } from '../testkit/vectors.js';
import { concat } from '../testkit/bytes.js';

interface FramesFile {
  serial: Array<{ name: string; body: string; body_length: number; crc32: string; crc32_le: string; cobs: string; frame: string; frame_length: number }>;
  tcp: Array<{ name: string; body: string; frame: string }>;
  streams: Array<{ name: string; transport: 'serial' | 'tcp'; max_body: number; wire: string; bodies: string[]; errors: string[]; fatal?: boolean }>;
}


const framesV = loadVectors<FramesFile>('frames.json');

t.test('frame vectors both ways', async (t) => {
  for (const f of framesV.serial) {
    const body = fromHex(f.body);
    t.equal(body.length, f.body_length);
    t.equal(`0x${(crc32(body) >>> 0).toString(16).padStart(8, '0')}`, f.crc32, `${f.name}: crc`);
    t.equal(toHex(cobsEncode(concat(body, fromHex(f.crc32_le)))), f.cobs, `${f.name}: cobs`);
    t.equal(toHex(encodeSerialFrame(body)), f.frame, `${f.name}: encode`);
    t.equal(fromHex(f.frame).length, f.frame_length);
    t.same(new SerialFrameDecoder().push(fromHex(f.frame)).frames.map(toHex), [f.body], `${f.name}: decode`);
  }
  for (const f of framesV.tcp) {
    t.equal(toHex(encodeTcpFrame(fromHex(f.body))), f.frame, `${f.name}: tcp encode`);
    t.same(new TcpFrameDecoder().push(fromHex(f.frame)).frames.map(toHex), [f.body], `${f.name}: tcp decode`);
  }
  for (const s of framesV.streams) {
    const dec = s.transport === 'serial' ? new SerialFrameDecoder(s.max_body) : new TcpFrameDecoder(s.max_body);
    const r = dec.push(fromHex(s.wire));
    t.same(r.frames.map(toHex), s.bodies, `${s.name}: bodies`);
    t.same(r.errors.map((e) => e.reason), s.errors, `${s.name}: errors`);
    t.equal(r.fatal, s.fatal ?? false, `${s.name}: fatal`);
  }
  t.equal(crc32(new TextEncoder().encode('123456789')) >>> 0, 0xcbf43926, 'CRC-32/ISO-HDLC check value');
});
