/**
 * Test-vector generator: writes `docs/vectors/{frames,arq}.json` (framing and the serial link layer)
 * and `{cbor,commands-v2,membership,messages-v2,horizon,seal,batch}.json` (protocol v2, scripts/vectors-*.ts)
 * from fixed inputs.
 *
 * Everything is deterministic: identities come from fixed 32-byte seeds, nonces and X25519
 * ephemeral secrets are fixed, and ed25519 signatures and ChaCha20-Poly1305 are deterministic, so
 * a rerun writes identical files. Run with `make vectors`; the `test/vectors-*.test.ts` and
 * `test/protocol-vectors.test.ts` check every vector both ways (decode equals the readable form,
 * encode is byte-identical).
 *
 * Readable form (docs/PROTOCOL.md §16): a byte string is `{"$hex": "…"}`, every other value is
 * plain JSON (`null` for CBOR null).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32 } from '../protocol/crc32.js';
import { cobsEncode, encodeCbor, encodeSerialFrame, encodeTcpFrame, MAX_FRAME_BYTES, SerialFrameDecoder, TcpFrameDecoder, toHex } from '../protocol/index.js';
import { concat } from '../testkit/bytes.js';
import { repoRoot } from './repo-root.js';
import { arqExchange, ARQ_EXCHANGE_OPTIONS, type ArqStep } from './arq-vectors.js';
import { batchVectors } from './vectors-batch.js';
import { cborVectors } from './vectors-cbor.js';
import { commandsV2Vectors } from './vectors-commands-v2.js';
import { horizonVectors } from './vectors-horizon.js';
import { membershipVectors } from './vectors-membership.js';
import { messagesV2Vectors } from './vectors-messages-v2.js';
import { sealVectors } from './vectors-seal.js';

/** JSON form of a value with byte strings as `{"$hex": "…"}`. */
export type Readable = null | boolean | number | string | { $hex: string } | Readable[] | { [k: string]: Readable };

/** Readable form of a decoded message or CBOR value. */
export function toReadable(v: unknown): Readable {
  if (v instanceof Uint8Array) return { $hex: toHex(v) };
  if (Array.isArray(v)) return v.map(toReadable);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, Readable> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toReadable(x);
    return out;
  }
  return v as Readable;
}

const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);
const hex = toHex;
/**
 * Framing and the ARQ treat bodies as opaque bytes; these are the bodies the vectors always used
 * (protocol 1's `Unsubscribe`, `81 07`, and a `PollRequest` array), kept byte for byte so the
 * files stay identical.
 */
const OPAQUE_SMALL = Uint8Array.of(0x81, 0x07);
const opaquePoll = (): Uint8Array => encodeCbor([3, 2, MAX_FRAME_BYTES, [fill(32, 0x01)], [fill(32, 0x02)]]);

function framesFile(): unknown {
  const nonZero = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i % 255) + 1);
  const bodies: Array<[string, string, Uint8Array]> = [
    ['small', 'an opaque 2-byte body', OPAQUE_SMALL],
    ['one_byte', 'smallest body, 1 byte', Uint8Array.of(0x07)],
    ['zeros', 'body with zero bytes, including first and last', Uint8Array.of(0x00, 0x00, 0x11, 0x00, 0x22, 0x00)],
    ['run_253', '253 non-zero bytes (COBS code 0xff block boundary near the CRC)', nonZero(253)],
    ['run_254', '254 non-zero bytes: the body alone fills one 0xff COBS block', nonZero(254)],
    ['run_255', '255 non-zero bytes', nonZero(255)],
    ['run_508', '508 non-zero bytes: two full 0xff COBS blocks, then the CRC', nonZero(508)],
    ['zeros_254', '254 zero bytes', new Uint8Array(254)],
  ];
  const serial = bodies.map(([name, description, body]) => {
    const crc = crc32(body) >>> 0;
    const crcLe = new Uint8Array(4);
    new DataView(crcLe.buffer).setUint32(0, crc, true);
    const frame = encodeSerialFrame(body);
    return {
      name,
      description,
      body: hex(body),
      body_length: body.length,
      crc32: `0x${crc.toString(16).padStart(8, '0')}`,
      crc32_le: hex(crcLe),
      cobs: hex(cobsEncode(concat(body, crcLe))),
      frame: hex(frame),
      frame_length: frame.length,
    };
  });
  const tcp = bodies.slice(0, 4).map(([name, description, body]) => ({ name, description, body: hex(body), frame: hex(encodeTcpFrame(body)) }));

  // A received stream: the lone delimiter a sender emits on (re)open, a frame, an empty frame,
  // garbage, a frame whose CRC was corrupted, another frame.
  const f1 = encodeSerialFrame(bodies[0]![2]);
  const f2 = encodeSerialFrame(bodies[2]![2]);
  const bad = encodeSerialFrame(Uint8Array.of(0x81, 0x07));
  bad[1]! ^= 0x01;
  const wire = concat(Uint8Array.of(0x00), f1, Uint8Array.of(0x00), Uint8Array.of(0x05, 0x99, 0x00), bad, f2);
  const r = new SerialFrameDecoder().push(wire);
  // Over a 1000-byte cap: a 1200-byte body overflows the receive buffer; 1003 zero bytes COBS-encode
  // to only 1008 bytes and fit the buffer, but the decoded body is still over the cap.
  const tooBig = concat(encodeSerialFrame(new Uint8Array(1200).fill(0x55)), encodeSerialFrame(new Uint8Array(1003)));
  const r2 = new SerialFrameDecoder(1000).push(concat(tooBig, f1));
  const tcpWire = concat(encodeTcpFrame(bodies[0]![2]), Uint8Array.of(0x00, 0x01, 0x00, 0x01));
  const r3 = new TcpFrameDecoder().push(tcpWire);
  return {
    description:
      'Stream framing. Serial: frame = COBS(body ‖ CRC-32/ISO-HDLC(body) as 4 bytes little-endian) ‖ 00. ' +
      'TCP/TLS: frame = u32 big-endian body length ‖ body. streams: bytes a receiver gets and what it must produce. See docs/PROTOCOL.md §2.',
    serial,
    tcp,
    streams: [
      {
        name: 'serial_resync',
        transport: 'serial',
        max_body: MAX_FRAME_BYTES,
        description: 'leading lone 00 (link open), frame, empty frame (ignored), garbage 05 99 (bad COBS), frame with a flipped bit (CRC), frame',
        wire: hex(wire),
        bodies: r.frames.map(hex),
        errors: r.errors.map((e) => e.reason),
      },
      {
        name: 'serial_too_large',
        transport: 'serial',
        max_body: 1000,
        description: 'to a receiver capped at 1000 bytes: a 1200-byte body and a 1003-byte all-zero body are discarded (TooLarge); the next frame decodes',
        wire: hex(concat(tooBig, f1)),
        bodies: r2.frames.map(hex),
        errors: r2.errors.map((e) => e.reason),
      },
      {
        name: 'tcp_length_over_cap',
        transport: 'tcp',
        max_body: MAX_FRAME_BYTES,
        description: 'a frame, then a length of 65537: fatal, close the link',
        wire: hex(tcpWire),
        bodies: r3.frames.map(hex),
        errors: r3.errors.map((e) => e.reason),
        fatal: r3.fatal,
      },
    ],
  };
}


function arqFile(): unknown {
  const steps: ArqStep[] = arqExchange(
    opaquePoll(),
    OPAQUE_SMALL,
  );
  const polls = steps.flatMap((s) => (s.call === 'poll' ? s.out : []));
  const pick = (what: string, f: (x: (typeof polls)[number]) => boolean): unknown => {
    const x = polls.find(f);
    if (x === undefined) throw new Error(`the ARQ exchange has no ${what}`);
    return { name: what, body: x.body, serial_frame: x.serial_frame, fields: x.fields };
  };
  return {
    description:
      'Serial link layer (docs/PROTOCOL.md §2.1.1). frames: one frame body of each kind with its fields (data as hex; sacked_seqs lists the seqs the sack bits name) and its serial frame. ' +
      'exchange: a script of calls on two endpoints S and R (protocol/serial-arq.ts) at times in ms, built with `options` (epochs: the epochs each endpoint picks, in order); ' +
      'poll lists the frame bodies the call returned (lost: the line dropped it, it is never received), receive lists the messages the call delivered. Replaying the calls on fresh endpoints must give the same outputs.',
    frames: [
      pick('data_start', (x) => x.fields.kind === 'DATA' && x.fields.start),
      pick('data_last', (x) => x.fields.kind === 'DATA' && x.fields.last && !x.fields.start),
      pick('frag', (x) => x.fields.kind === 'FRAG'),
      pick('ack_sack', (x) => x.fields.kind === 'ACK' && x.fields.sack !== 0),
      pick('ack', (x) => x.fields.kind === 'ACK' && x.fields.sack === 0),
      pick('rst', (x) => x.fields.kind === 'RST'),
    ],
    exchange: { options: ARQ_EXCHANGE_OPTIONS, steps },
  };
}

/** Every vector file (frames, arq and protocol v2's), as JSON-ready objects keyed by file name. */
export function buildVectors(): Record<string, unknown> {
  return {
    'frames.json': framesFile(),
    'arq.json': arqFile(),
    ...cborVectors(),
    ...commandsV2Vectors(),
    ...membershipVectors(),
    ...messagesV2Vectors(),
    ...horizonVectors(),
    ...sealVectors(),
    ...batchVectors(),
  };
}

function main(): void {
  const out = join(repoRoot(), 'docs', 'vectors');
  mkdirSync(out, { recursive: true });
  for (const [file, data] of Object.entries(buildVectors())) {
    writeFileSync(join(out, file), `${JSON.stringify(data, null, 2)}\n`);
    console.log(`wrote ${join('docs', 'vectors', file)}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
