/**
 * The ARQ serial link on a lossy simulated 115200-baud UART (1 % byte drops, bit-error rate
 * 1e-5) with messages flowing both ways at once, as on a gateway link: each end sends a 300-byte
 * message every 120 ms (2.5 kB/s each way, about a fifth of the line). Run twice in the same
 * process — ARQ pacing on (the default: data handed to the UART only while < 25 ms is queued
 * ahead of it) and off — and reported side by side: goodput per direction, message latency, and
 * the share of received chunks that were duplicates (spurious retransmissions).
 */
import { randomBytes } from 'node:crypto';
import { SerialPortStream } from '@serialport/stream';
import { ArqLink } from '../agent/transport/arq-link.js';
import { SimRegistry, createSimBinding, createSimLink, type SimBinding } from '../firmware-sim/uart/index.js';
import { SerialFrameDecoder, encodeSerialFrame } from '../protocol/serial-frame.js';
import { LatencyHistogram, QUICK, round, sleep } from './util.js';

const BAUD = 115_200;
const SIZE = 300;
const EVERY_MS = 120;

interface Result {
  goodput: number;
  p50: number;
  p99: number;
  duplicateShare: number;
}

function open(binding: SimBinding, path: string): Promise<SerialPortStream<SimBinding>> {
  return new Promise((resolve, reject) => {
    const p: SerialPortStream<SimBinding> = new SerialPortStream({ binding, path, baudRate: BAUD }, (err) => (err ? reject(err) : resolve(p)));
  });
}

async function run(seconds: number, leadMs: number, tag: string): Promise<Result> {
  const registry = new SimRegistry();
  const sim = createSimLink({ pathA: `/dev/lossyA${tag}`, pathB: `/dev/lossyB${tag}`, registry, baudRate: BAUD, dropRate: 0.01, bitErrorRate: 1e-5, seed: 7 });
  const binding = createSimBinding(registry);
  const ports = [await open(binding, `/dev/lossyA${tag}`), await open(binding, `/dev/lossyB${tag}`)];
  const links = ports.map(
    (p, i) =>
      new ArqLink(p, {
        description: `lossy-${i}`, decoder: new SerialFrameDecoder(), encode: encodeSerialFrame, preamble: Uint8Array.of(0), baudRate: BAUD,
        arq: { leadMs }, shutdown: () => p.close(() => undefined), abort: () => p.close(() => undefined),
      }),
  );
  const hist = new LatencyHistogram();
  let bytes = 0;
  const sentAt = new Map<number, number>();
  let counter = 0;
  for (const l of links) {
    l.on('frame', (f) => {
      const id = Buffer.from(f).readUInt32BE(1);
      const t = sentAt.get(id);
      if (t !== undefined) hist.recordMs(performance.now() - t);
      bytes += f.length;
    });
  }
  const timers = links.map((l) =>
    setInterval(() => {
      const m = new Uint8Array(randomBytes(SIZE));
      m[0] = 0x82; // a CBOR array head, as every message starts
      Buffer.from(m.buffer, m.byteOffset).writeUInt32BE(++counter, 1);
      sentAt.set(counter, performance.now());
      l.send(m);
    }, EVERY_MS),
  );
  await sleep(seconds * 1000);
  for (const t of timers) clearInterval(t);
  const stats = links.map((l) => l.arq.stats);
  const received = stats.reduce((s, x) => s + x.received + x.duplicates, 0);
  const duplicates = stats.reduce((s, x) => s + x.duplicates, 0);
  for (const l of links) await l.close();
  sim.dispose();
  return { goodput: bytes / 2 / seconds, p50: hist.pMs(50), p99: hist.pMs(99), duplicateShare: received > 0 ? duplicates / received : 0 };
}

export async function benchSerialLossy(): Promise<Record<string, number>> {
  const seconds = QUICK ? 8 : 20;
  const paced = await run(seconds, 25, 'p');
  const unpaced = await run(seconds, Infinity, 'u');
  const out: Record<string, number> = { 'serial_lossy.offered_bytes_per_s': round((SIZE * 1000) / EVERY_MS, 0) };
  for (const [name, r] of [['paced', paced], ['unpaced', unpaced]] as const) {
    out[`serial_lossy.${name}.goodput_bytes_per_s`] = round(r.goodput, 0);
    out[`serial_lossy.${name}.latency_p50_ms`] = round(r.p50, 1);
    out[`serial_lossy.${name}.latency_p99_ms`] = round(r.p99, 1);
    out[`serial_lossy.${name}.duplicate_share`] = round(r.duplicateShare, 3);
  }
  return out;
}
