/**
 * Protocol-layer micro-benchmarks on protocol v2: stream framing, message encode/decode with
 * validation (envelope-v2's checks), command decoding (id hash included) and signature
 * verification (over the v2 signature message of the id). Pure CPU, single core, no I/O.
 *
 * Each figure is the median of 5 timed runs after one warm-up run; a run repeats the operation
 * for about {@link RUN_MS} ms. Throughput in MB/s counts the operation's payload bytes (the frame
 * body for framing, the encoded message or command otherwise), 1 MB = 10^6 bytes.
 */
import { decodeCommandV2, encodeCommandV2, signatureMessage, type SignedCommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { identityFromSecret, verifySignature } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { SerialFrameDecoder, encodeSerialFrame } from '../protocol/serial-frame.js';
import { TcpFrameDecoder, encodeTcpFrame } from '../protocol/tcp-frame.js';

/** Target duration of one timed run, in ms. */
export const RUN_MS = 150;
const RUNS = 5;

/** Result of one measured operation. */
export interface Measurement {
  opsPerSec: number;
  mbPerSec: number;
}

/**
 * Time `op` (which returns something so the JIT cannot drop it): calibrate a batch size, warm
 * up, then take the median of {@link RUNS} runs.
 */
export function measure(bytesPerOp: number, op: () => unknown): Measurement {
  let sink: unknown;
  let batch = 1;
  // Calibrate: grow the batch until one batch takes ≥ 10 ms, then size runs from it.
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) sink = op();
    const ms = performance.now() - t0;
    if (ms >= 10) {
      batch = Math.max(1, Math.round((batch * RUN_MS) / ms));
      break;
    }
    batch *= 4;
  }
  const rates: number[] = [];
  for (let r = -1; r < RUNS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) sink = op();
    const ms = performance.now() - t0;
    if (r >= 0) rates.push((batch * 1000) / ms); // r = -1 is the warm-up
  }
  if (sink === Symbol.for('never')) console.log(sink);
  rates.sort((a, b) => a - b);
  const opsPerSec = rates[Math.floor(RUNS / 2)]!;
  return { opsPerSec, mbPerSec: (opsPerSec * bytesPerOp) / 1e6 };
}

/** Deterministic pseudo-random bytes (so runs compare like with like). */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

/**
 * Run the protocol benchmarks. Keys are `protocol.<name>_ops_s` and `protocol.<name>_mb_s`.
 */
export async function benchProtocol(): Promise<Record<string, number>> {
  const A = identityFromSecret(new Uint8Array(32).fill(1));
  // The workload of a bulk sync: 100-byte-payload data commands of one scope, 16 to a PollResponse (~3.5 kB).
  const scopeId = bytes(32, 77);
  const commands: SignedCommandV2[] = [];
  let parent: Uint8Array[] = [bytes(32, 78)];
  for (let i = 0; i < 16; i++) {
    const c = encodeCommandV2(scopeId, { parents: parent, author: A.author, seq: 1000 + i, kind: CommandKind.Data, payload: bytes(100, i + 1) }, (m) => A.sign(m));
    commands.push(c);
    parent = [c.id];
  }
  const response: MessageV2 = {
    type: 'PollResponse',
    scope: 3,
    session: 42,
    more: true,
    gap: false,
    total: 100_000,
    next_poll_ms: 250,
    heads: [commands[15]!.id],
    items: commands.map((c) => c.bytes),
  };
  const body = Uint8Array.from(encodeMessageV2(response));
  const serialFrame = encodeSerialFrame(body);
  const tcpFrame = encodeTcpFrame(body);
  const serialDec = new SerialFrameDecoder();
  const tcpDec = new TcpFrameDecoder();
  const cmd = commands[7]!;
  const signed = signatureMessage(cmd.id);

  const results: Record<string, number> = {};
  const add = (name: string, m: Measurement): void => {
    results[`protocol.${name}_ops_s`] = Math.round(m.opsPerSec);
    results[`protocol.${name}_mb_s`] = Math.round(m.mbPerSec * 10) / 10;
  };
  const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

  add('serial_encode', measure(body.length, () => encodeSerialFrame(body)));
  await yieldToLoop();
  add('serial_decode', measure(body.length, () => serialDec.push(serialFrame)));
  await yieldToLoop();
  add('tcp_encode', measure(body.length, () => encodeTcpFrame(body)));
  await yieldToLoop();
  add('tcp_decode', measure(body.length, () => tcpDec.push(tcpFrame)));
  await yieldToLoop();
  add('message_encode_validate', measure(body.length, () => encodeMessageV2(response)));
  await yieldToLoop();
  add('message_decode_validate', measure(body.length, () => decodeMessageV2(body)));
  await yieldToLoop();
  add('command_decode', measure(cmd.bytes.length, () => decodeCommandV2(scopeId, cmd.bytes)));
  await yieldToLoop();
  add('verify', measure(cmd.bytes.length, () => verifySignature(A.publicKey, signed, cmd.signature)));
  results['protocol.frame_body_bytes'] = body.length;
  results['protocol.command_bytes'] = cmd.bytes.length;
  return results;
}
