/**
 * Link-layer ARQ (protocol/arq/, through the protocol/serial-arq.ts facade): pure endpoint pairs
 * on a fake clock over lossy in-memory channels (whole frames dropped, duplicated, reordered; or
 * bytes dropped and the serial frame decoder run on what is left), plus the `ArqLink` adapter over
 * the simulated UART. The parts have their own tests: test/arq-wire, arq-rtt and arq-driver.
 */
import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { SerialPortStream } from '@serialport/stream';
import {
  ARQ_ACK_BYTES, ARQ_DATA_HEADER, ArqEndpoint, isArqFrame, type ArqOptions,
} from '../protocol/serial-arq.js';
import { SerialFrameDecoder, encodeSerialFrame, serialFrameLength } from '../protocol/serial-frame.js';
import { mulberry32 } from '../firmware-sim/uart/sim-line.js';
import { type SimBinding, SimRegistry, createSimBinding, createSimLink } from '../firmware-sim/uart/index.js';
import { ArqLink } from '../agent/transport/arq-link.js';

// ---- an event-driven simulation of two endpoints ---------------------------------------------

interface ChannelOpts {
  /** Probability a whole link frame is lost. */
  frameLoss?: number;
  /** Probability a frame is delivered twice. */
  dup?: number;
  /** Max extra random delay per frame, ms (reorders frames). */
  jitter?: number;
  /** Per-byte drop probability: frames go through encodeSerialFrame / SerialFrameDecoder. */
  byteDrop?: number;
  /** Line rate in bytes/ms (serialises frames); 0 = infinitely fast. */
  bytesPerMs?: number;
  /** One-way latency, ms. */
  latency?: number;
  seed?: number;
}

interface Delivery {
  at: number;
  order: number;
  to: 0 | 1;
  body?: Uint8Array;
  bytes?: Uint8Array;
}

class Sim {
  now = 0;
  readonly ends: [ArqEndpoint, ArqEndpoint];
  readonly got: [Uint8Array[], Uint8Array[]] = [[], []];
  readonly wire: [number, number] = [0, 0];
  private readonly q: Delivery[] = [];
  private order = 0;
  private readonly rnd: () => number;
  private readonly lineFree: [number, number] = [0, 0];
  private readonly decoders = [new SerialFrameDecoder(), new SerialFrameDecoder()];
  maxQueued = 0;
  maxDeliveries = 0;

  constructor(readonly ch: ChannelOpts, arq: ArqOptions = {}) {
    this.rnd = mulberry32(ch.seed ?? 1);
    const r2 = mulberry32((ch.seed ?? 1) ^ 0x1234);
    this.ends = [new ArqEndpoint({ random: r2, ...arq }), new ArqEndpoint({ random: r2, ...arq })];
  }

  private transmit(from: 0 | 1, body: Uint8Array): void {
    const to = (1 - from) as 0 | 1;
    const bpm = this.ch.bytesPerMs ?? 0;
    const wireLen = serialFrameLength(body.length);
    this.wire[from] += wireLen;
    let at = this.now;
    if (bpm > 0) {
      this.lineFree[from] = Math.max(this.now, this.lineFree[from]) + wireLen / bpm;
      at = this.lineFree[from];
    }
    at += this.ch.latency ?? 0;
    if (this.ch.byteDrop !== undefined) {
      const enc = encodeSerialFrame(body);
      const kept: number[] = [];
      for (const b of enc) if (this.rnd() >= this.ch.byteDrop) kept.push(b);
      this.q.push({ at, order: this.order++, to, bytes: Uint8Array.from(kept) });
      return;
    }
    if (this.rnd() < (this.ch.frameLoss ?? 0)) return;
    const copies = this.rnd() < (this.ch.dup ?? 0) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.q.push({ at: at + this.rnd() * (this.ch.jitter ?? 0), order: this.order++, to, body: body.slice() });
    }
  }

  private pump(i: 0 | 1): void {
    for (const f of this.ends[i].poll(this.now)) this.transmit(i, f);
  }

  private deliver(d: Delivery): void {
    const e = this.ends[d.to];
    const bodies = d.body !== undefined ? [d.body] : this.decoders[d.to]!.push(d.bytes!).frames;
    for (const b of bodies) for (const m of e.receive(b, this.now)) this.got[d.to].push(m);
    this.pump(d.to);
  }

  /** Run until both endpoints are idle and nothing is on the wire, or `limitMs` of sim time. */
  run(limitMs = 600_000, until?: () => boolean): void {
    this.pump(0);
    this.pump(1);
    const end = this.now + limitMs;
    for (;;) {
      if (until?.()) return;
      this.maxQueued = Math.max(this.maxQueued, this.ends[0].queuedBytes, this.ends[1].queuedBytes);
      this.maxDeliveries = Math.max(this.maxDeliveries, this.q.length);
      let next = Infinity;
      for (const d of this.q) next = Math.min(next, d.at);
      for (const i of [0, 1] as const) {
        const w = this.ends[i].nextWakeup(this.now);
        if (w !== null) next = Math.min(next, this.now + w);
      }
      if (next === Infinity) return;
      if (next > end) throw new Error(`sim did not settle within ${limitMs} ms`);
      this.now = Math.max(this.now, next);
      this.q.sort((a, b) => a.at - b.at || a.order - b.order);
      while (this.q.length > 0 && this.q[0]!.at <= this.now) this.deliver(this.q.shift()!);
      this.pump(0);
      this.pump(1);
    }
  }

  send(from: 0 | 1, msg: Uint8Array): void {
    this.ends[from].send(msg);
    this.pump(from);
  }
}

function msgs(sizes: number[], seed = 7): Uint8Array[] {
  const r = mulberry32(seed);
  return sizes.map((n, k) => {
    const m = new Uint8Array(n);
    for (let i = 0; i < n; i++) m[i] = (r() * 256) | 0;
    if (n >= 2) (m[0] = k & 0xff), (m[1] = k >> 8);
    return m;
  });
}

const same = (a: Uint8Array[], b: Uint8Array[]): boolean =>
  a.length === b.length && a.every((x, i) => Buffer.from(x).equals(Buffer.from(b[i]!)));

// ---- pure tests ---------------------------------------------------------------------------------

t.test('wire format: DATA header is 3 bytes, ACK 7, first byte below 0x10', (tt) => {
  const a = new ArqEndpoint({ random: () => 0.5 });
  a.send(Uint8Array.of(0x85, 1, 2));
  const [f] = a.poll(0);
  tt.same([...f!], [0x07, 128, 0, 0x85, 1, 2], 'DATA | LAST | START, epoch, seq 0, data');
  tt.equal(f!.length - 3, ARQ_DATA_HEADER);
  tt.ok(isArqFrame(f!));
  tt.notOk(isArqFrame(Uint8Array.of(0x85, 1)), 'a CBOR array head is a plain message');
  const b = new ArqEndpoint();
  tt.same(b.receive(f!, 0).map((x) => [...x]), [[0x85, 1, 2]]);
  const acks = b.poll(0);
  tt.equal(acks.length, 1, 'a completed message is acknowledged at once');
  tt.same([...acks[0]!], [0x02, 128, 1, 0, 0, 0, 0]);
  tt.equal(acks[0]!.length, ARQ_ACK_BYTES);
  a.receive(acks[0]!, 5);
  tt.equal(a.queuedBytes, 0);
  tt.equal(a.nextWakeup(5), null, 'nothing left to do');
  tt.equal(b.nextWakeup(5), null);
  // One-command push: 6 bytes of serial framing + the 3-byte header.
  tt.equal(serialFrameLength(f!.length) - 3, 3 + 6);
  tt.end();
});

t.test('bad input never throws and is counted', (tt) => {
  const e = new ArqEndpoint();
  const r = mulberry32(3);
  for (let i = 0; i < 20000; i++) {
    const n = (r() * 12) | 0;
    const b = new Uint8Array(n);
    for (let j = 0; j < n; j++) b[j] = r() < 0.5 ? (r() * 16) | 0 : (r() * 256) | 0;
    e.receive(b, i);
    e.poll(i);
  }
  tt.ok(e.stats.bad > 0);
  tt.throws(() => e.send(new Uint8Array(0)), { name: 'TooLargeError' });
  tt.throws(() => e.send(new Uint8Array(65537)), { name: 'TooLargeError' });
  tt.end();
});

t.test('bounded send queue: a dead link throws Busy instead of growing', (tt) => {
  const e = new ArqEndpoint();
  for (let i = 0; i < 4; i++) e.send(new Uint8Array(65536));
  tt.equal(e.queuedBytes, 262144);
  tt.throws(() => e.send(Uint8Array.of(1)), { name: 'SyncwireError', reason: 'Busy' });
  // Nothing is ever acknowledged: retransmissions back off, memory stays put.
  let frames = 0;
  for (let now = 0; now < 120_000; now += 10) frames += e.poll(now).length;
  tt.ok(frames < 2000, `${frames} frames in 2 min on a dead line (backoff)`);
  tt.equal(e.queuedBytes, 262144);
  tt.end();
});

t.test('clean channel: many messages, exactly once, in order, few retransmissions', (tt) => {
  const sim = new Sim({ bytesPerMs: 11.52, latency: 1 }, { bytesPerMs: 11.52 });
  const m = msgs(Array.from({ length: 50 }, (_, i) => 4096 + (i % 3)));
  for (const x of m) sim.send(0, x);
  sim.run();
  tt.ok(same(sim.got[1], m));
  tt.equal(sim.ends[0].stats.resent, 0, 'no spurious retransmission (RTO counts line time)');
  const payload = m.reduce((s, x) => s + x.length, 0);
  const eff = payload / (sim.wire[0] + sim.wire[1]);
  tt.ok(eff >= 0.97, `efficiency ${eff.toFixed(4)} (payload / all wire bytes both ways)`);
  tt.end();
});

t.test('property: every message exactly once, in order, under frame loss/dup/reorder', (tt) => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 8000 }), { minLength: 1, maxLength: 25 }),
      fc.double({ min: 0, max: 0.3, noNaN: true }),
      fc.double({ min: 0, max: 0.1, noNaN: true }),
      fc.integer({ min: 0, max: 30 }),
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.boolean(),
      (sizes, loss, dup, jitter, seed, both) => {
        const sim = new Sim({ frameLoss: loss, dup, jitter, latency: 2, bytesPerMs: 11.52, seed }, { bytesPerMs: 11.52 });
        const ma = msgs(sizes, seed);
        const mb = both ? msgs(sizes.slice().reverse(), seed + 1) : [];
        for (const x of ma) sim.send(0, x);
        for (const x of mb) sim.send(1, x);
        sim.run(3_600_000);
        if (!same(sim.got[1], ma)) return false;
        if (!same(sim.got[0], mb)) return false;
        // Bounded memory: the queue never held more than what was sent, the wire stays bounded.
        const total = Math.max(ma.reduce((s, x) => s + x.length, 0), mb.reduce((s, x) => s + x.length, 0));
        return sim.maxQueued <= total && sim.ends[0].queuedBytes === 0 && sim.ends[1].queuedBytes === 0;
      },
    ),
    { numRuns: 60 },
  );
  tt.end();
});

t.test('byte-level channel: 1 % byte drops through the serial frame decoder', (tt) => {
  const sim = new Sim({ byteDrop: 0.01, bytesPerMs: 11.52, latency: 1, seed: 11 }, { bytesPerMs: 11.52 });
  const sizes = Array.from({ length: 40 }, (_, i) => 200 + ((i * 997) % 1800));
  const m = msgs(sizes, 5);
  for (const x of m) sim.send(0, x);
  const back = msgs([216, 300, 1200], 9);
  for (const x of back) sim.send(1, x);
  sim.run(3_600_000);
  tt.ok(same(sim.got[1], m), 'A → B intact and in order');
  tt.ok(same(sim.got[0], back), 'B → A intact and in order');
  const payload = sizes.reduce((s, x) => s + x, 0);
  const s = sim.ends[0].stats;
  tt.ok(s.chunkSize <= 64, `chunk size adapted down to ${s.chunkSize}`);
  tt.comment(`1 % byte drops: ${payload} B in ${(sim.now / 1000).toFixed(1)} s sim time = ${((payload / sim.now) * 1000).toFixed(0)} B/s goodput (line 11520 B/s); resent ${s.resent}/${s.sent}`);
  tt.end();
});

t.test('traffic both ways at 1 % byte drops: ACKs do not wait behind data, the exchange finishes', (tt) => {
  // Both ends stream 40 messages at once. An ACK queued behind a window of its sender's own data
  // arrives late and makes the peer resend chunks that had arrived — which queue more data ahead
  // of the next ACK: without pacing data to the line this never finished (a livelock, found by
  // the chaos soak). Paced, it finishes in under half a minute and duplicates stay a minority.
  const sim = new Sim({ byteDrop: 0.01, bytesPerMs: 11.52, latency: 1, seed: 23 }, { bytesPerMs: 11.52 });
  const sizes = Array.from({ length: 40 }, (_, i) => 300 + ((i * 577) % 900));
  const ma = msgs(sizes, 31);
  const mb = msgs(sizes.slice().reverse(), 37);
  for (const x of ma) sim.send(0, x);
  for (const x of mb) sim.send(1, x);
  sim.run(120_000);
  tt.ok(same(sim.got[1], ma) && same(sim.got[0], mb), 'both directions intact and in order');
  const [a, b] = sim.ends.map((e) => e.stats);
  const dupShare = (a!.duplicates + b!.duplicates) / (a!.received + b!.received);
  tt.ok(dupShare < 0.35, `duplicates ${(dupShare * 100).toFixed(1)} % of received chunks`);
  tt.comment(`both ways, 1 % byte drops: ${sizes.reduce((x, y) => x + y, 0)} B each way in ${(sim.now / 1000).toFixed(1)} s sim time; duplicates ${a!.duplicates + b!.duplicates}/${a!.received + b!.received}`);
  tt.end();
});

t.test('large chunks in flight when the line turns bad are retransmitted in fragments', (tt) => {
  const sim = new Sim({ bytesPerMs: 11.52, latency: 1, seed: 4 }, { bytesPerMs: 11.52, initialChunk: 1024 });
  const m = msgs([8000, 8000, 8000], 3);
  for (const x of m) sim.send(0, x);
  let switched = false;
  sim.run(600_000, () => {
    if (!switched && sim.ends[0].stats.sent >= 2) {
      sim.ch.byteDrop = 0.01;
      switched = true;
    }
    return false;
  });
  tt.ok(same(sim.got[1], m));
  tt.end();
});

t.test('reset of one side (or both) resynchronises; nothing corrupt is ever delivered', (tt) => {
  for (const resetBoth of [false, true]) {
    for (let seed = 1; seed <= 30; seed++) {
      const sim = new Sim({ frameLoss: 0.05, latency: 3, bytesPerMs: 11.52, seed }, { bytesPerMs: 11.52 });
      const before = msgs(Array.from({ length: 10 }, (_, i) => 100 + i * 300), seed);
      for (const x of before) {
        sim.send(0, x);
        sim.send(1, x);
      }
      // Run a while, then reset B in the middle of the transfer (a device reboot).
      const stopAt = 50 + seed * 20;
      sim.run(600_000, () => sim.now >= stopAt);
      sim.ends[1].reset();
      if (resetBoth) sim.ends[0].reset();
      const nBefore = [sim.got[0].length, sim.got[1].length];
      const after = msgs([1000, 20, 3000, 5, 700], seed + 100);
      for (const x of after) {
        sim.send(0, x);
        sim.send(1, x);
      }
      sim.run(3_600_000);
      const known = new Set([...before, ...after].map((x) => Buffer.from(x).toString('hex')));
      for (const side of [0, 1] as const) {
        tt.ok(sim.got[side].every((x) => known.has(Buffer.from(x).toString('hex'))), 'every delivered message is one that was sent');
        const post = sim.got[side].slice(nBefore[side]).filter((x) => after.some((y) => Buffer.from(y).equals(Buffer.from(x))));
        if (!same(post, after)) tt.fail(`side ${side} seed ${seed}: messages after the reset not delivered exactly once, in order`);
      }
    }
  }
  tt.end();
});

// ---- ArqLink over the simulated UART --------------------------------------------------------

type Port = SerialPortStream<SimBinding>;
function openPort(binding: SimBinding, path: string, baudRate: number): Promise<Port> {
  return new Promise((resolve, reject) => {
    const port: Port = new SerialPortStream({ binding, path, baudRate }, (err) => (err ? reject(err) : resolve(port)));
  });
}

async function linkPair(tt: { teardown(fn: () => unknown): void }, faults: { dropRate: number; bitErrorRate: number }, tag: string) {
  const registry = new SimRegistry();
  const sim = createSimLink({ pathA: `/dev/arqA${tag}`, pathB: `/dev/arqB${tag}`, registry, baudRate: 115200, ...faults, seed: 42 });
  const binding = createSimBinding(registry);
  const pa = await openPort(binding, `/dev/arqA${tag}`, 115200);
  const pb = await openPort(binding, `/dev/arqB${tag}`, 115200);
  const mk = (p: Port, d: string) =>
    new ArqLink(p, {
      description: d, decoder: new SerialFrameDecoder(), encode: encodeSerialFrame, preamble: Uint8Array.of(0), baudRate: 115200,
      shutdown: () => p.close(() => undefined), abort: () => p.isOpen && p.close(() => undefined),
    });
  const a = mk(pa, 'a');
  const b = mk(pb, 'b');
  tt.teardown(async () => {
    await a.close();
    await b.close();
    sim.dispose();
  });
  return { sim, a, b };
}

const keepAlive = setInterval(() => undefined, 60_000);
t.teardown(() => clearInterval(keepAlive));

t.test('ArqLink over the simulated UART at 1 % byte drops: 50 messages intact, in order', async (tt) => {
  const { sim, a, b } = await linkPair(tt, { dropRate: 0.01, bitErrorRate: 1e-5 }, 'lossy');
  const m = Array.from({ length: 50 }, (_, i) => {
    const x = randomBytes(200 + ((i * 7919) % 1801));
    x[0] = 0x82; // looks like a message; ArqLink does not care
    return new Uint8Array(x);
  });
  const got: Uint8Array[] = [];
  let errors = 0;
  b.on('frame', (f) => got.push(f));
  b.on('frame-error', () => errors++);
  const t0 = performance.now();
  const done = new Promise<void>((r) => b.on('frame', () => got.length === m.length && r()));
  for (const x of m) a.send(x);
  await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${got.length} delivered`)), 110_000))]);
  const secs = (performance.now() - t0) / 1000;
  tt.ok(same(got, m), 'intact and in order');
  const payload = m.reduce((s, x) => s + x.length, 0);
  const st = sim.stats();
  tt.comment(`1 % drops + BER 1e-5 at 115200: ${payload} B in ${secs.toFixed(1)} s = ${(payload / secs).toFixed(0)} B/s goodput ` +
    `(${((payload / secs / 11520) * 100).toFixed(1)} % of the line); dropped ${st.aToB.dropped} B, frame errors ${errors}, ` +
    `chunk ${a.arq.stats.chunkSize}, resent ${a.arq.stats.resent}/${a.arq.stats.sent}`);
});

t.test('ArqLink on a clean line: 200 KB of 4 KB messages, wire bytes / payload bytes', async (tt) => {
  const { sim, a, b } = await linkPair(tt, { dropRate: 0, bitErrorRate: 0 }, 'clean');
  const m = Array.from({ length: 50 }, () => new Uint8Array(randomBytes(4096)));
  const got: Uint8Array[] = [];
  b.on('frame', (f) => got.push(f));
  let drains = 0;
  a.on('drain', () => drains++);
  const t0 = performance.now();
  const done = new Promise<void>((r) => b.on('frame', () => got.length === m.length && r()));
  let refused = 0;
  for (const x of m) if (!a.send(x)) refused++;
  await done;
  const secs = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 300)); // the last ACKs
  tt.ok(same(got, m));
  tt.ok(refused > 0 && drains > 0, `send() said stop ${refused} times, drain came ${drains} times`);
  const payload = m.length * 4096;
  const st = sim.stats();
  const wire = st.aToB.written + st.bToA.written;
  const eff = payload / wire;
  tt.comment(`clean 115200: payload ${payload} B, wire ${st.aToB.written} B + ACKs ${st.bToA.written} B → efficiency ${eff.toFixed(4)}; ` +
    `${(payload / secs).toFixed(0)} B/s = ${((payload / secs / 11520) * 100).toFixed(1)} % of the line`);
  tt.ok(eff >= 0.95, `efficiency ${eff.toFixed(4)} ≥ 0.95`);
});

t.test('a v2 device (serial wiring in auto mode) switches to ARQ when the peer speaks it', async (tt) => {
  const { SimDeviceV2 } = await import('../firmware-sim/device-v2/index.js');
  const { attachDeviceToSerialPort } = await import('../firmware-sim/wiring/index.js');
  const { decodeMessageV2 } = await import('../protocol/envelope-v2.js');
  const { generateIdentity } = await import('../protocol/keys.js');
  const { helloV2 } = await import('../testkit/fuzz-inputs-v2.js');
  const registry = new SimRegistry();
  const sim = createSimLink({ pathA: '/dev/arqDevA', pathB: '/dev/arqDevB', registry, baudRate: 115200, dropRate: 0.01, seed: 5 });
  const binding = createSimBinding(registry);
  const pa = await openPort(binding, '/dev/arqDevA', 115200);
  const pb = await openPort(binding, '/dev/arqDevB', 115200);
  const me = generateIdentity();
  // Our Hello below is unsealed (no Seal bit): the device runs with sealing off.
  const device = new SimDeviceV2({ trustedKeys: [me.publicKey], seal: 'off' });
  const link = new ArqLink(pb, {
    description: 'agent', decoder: new SerialFrameDecoder(), encode: encodeSerialFrame, baudRate: 115200,
    shutdown: () => pb.close(() => undefined), abort: () => pb.isOpen && pb.close(() => undefined),
  });
  const types: string[] = [];
  link.on('frame', (f) => {
    try {
      types.push(decodeMessageV2(f).type);
    } catch {
      types.push('?');
    }
  });
  tt.teardown(async () => {
    device.stop();
    await link.close();
    if (pa.isOpen) await new Promise((r) => pa.close(r));
    sim.dispose();
  });
  attachDeviceToSerialPort(device, pa);
  const hello = helloV2(me); // the same bytes each time: a retransmission, not a new handshake
  const deadline = performance.now() + 20_000;
  // Keep saying Hello (over ARQ) until the device answers over ARQ.
  while (!types.includes('Auth') && performance.now() < deadline) {
    link.send(hello);
    await new Promise((r) => setTimeout(r, 500));
  }
  tt.ok(link.arq.stats.delivered > 0, `device answered over ARQ (${link.arq.stats.delivered} messages; got ${types.join(', ')})`);
  tt.ok(types.includes('Auth'), 'the device authenticated to our Hello');
});

// ---- a restarted peer that draws the epoch it had before -------------------------------------

t.test('a fresh sender that draws the epoch of the stream the receiver is in still gets through (no stall)', async (t) => {
  // A device reboots and its new random epoch byte equals the old one (1 in 256). The receiver is
  // 200 chunks into the old stream: the new seq 0 looks like an old duplicate or lands in its
  // window, and the old code acknowledged "next = 200" forever while the sender ignored it.
  for (const oldNext of [5, 60, 130, 200]) {
    // Each sender draws 0x42 first, then other bytes (a restart needs a new one).
    const epochs = (): (() => number) => {
      let i = 0;
      return () => ((i++ === 0 ? 0x42 : 0x10 + i) + 0.5) / 256;
    };
    const rx = new ArqEndpoint({ random: () => 0.9 });
    const old = new ArqEndpoint({ random: epochs() });
    let now = 0;
    const pump = (a: ArqEndpoint, b: ArqEndpoint, got: Uint8Array[]): void => {
      for (const f of a.poll(now)) got.push(...b.receive(f, now));
    };
    const sink: Uint8Array[] = [];
    for (let i = 0; i < oldNext; i++) {
      old.send(Uint8Array.of(0x81, 0x07));
      pump(old, rx, sink);
      now += 1;
    }
    for (let i = 0; i < 50 && old.busy; i++) {
      now += 30;
      pump(rx, old, []);
      pump(old, rx, sink);
    }
    t.equal(sink.length, oldNext, `old stream delivered (${oldNext} chunks)`);
    const fresh = new ArqEndpoint({ random: epochs() });
    t.equal(fresh.epoch, old.epoch, 'the new sender drew the same epoch');
    const msg = Uint8Array.of(0x82, 0x07, 0x01);
    fresh.send(msg);
    const got: Uint8Array[] = [];
    for (let i = 0; i < 200 && got.length === 0; i++) {
      pump(fresh, rx, got);
      now += 20;
      pump(rx, fresh, []);
      const w = fresh.nextWakeup(now);
      if (w !== null) now += w;
    }
    t.same(got.map((b) => Buffer.from(b).toString('hex')), ['820701'], `delivered after the receiver was at next = ${oldNext}`);
  }
});

t.test('ArqLink reassembles nothing larger than its maxFrame', async (t) => {
  const { Duplex } = await import('node:stream');
  const stream = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  const link = new ArqLink(stream, { description: 'cap', decoder: new SerialFrameDecoder(2000), encode: encodeSerialFrame, maxFrame: 2000 });
  const got: number[] = [];
  link.on('frame', (b: Uint8Array) => got.push(b.length));
  const tx = new ArqEndpoint({ random: () => 0.3 });
  const big = new Uint8Array(3000).fill(0x55);
  big[0] = 0x82;
  tx.send(big);
  tx.send(Uint8Array.of(0x81, 0x07));
  let now = 0;
  while (tx.busy && now < 5000) {
    for (const f of tx.poll(now)) stream.push(encodeSerialFrame(f));
    now += 10;
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  t.same(got, [2], 'the 3000-byte message is dropped, the next one delivered');
  t.ok(link.arq.stats.bad >= 1, 'the oversized message is counted');
  t.equal(link.arq.maxMessage, 2000);
  await link.close();
});
