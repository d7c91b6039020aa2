import t from 'tap';
import { randomBytes } from 'node:crypto';
import { SerialPortStream } from '@serialport/stream';
import {
  type SimBinding, type SimLinkOptions, SimRegistry, createSimBinding, createSimLink,
} from '../firmware-sim/uart/index.js';

type Port = SerialPortStream<SimBinding>;
/** The part of a tap test that `setup` needs (subtests and the root differ in type). */
type Test = { teardown(fn: () => void): void };

const A = '/dev/simA';
const B = '/dev/simB';

function setup(tt: Test, opts: Partial<SimLinkOptions> = {}) {
  const registry = new SimRegistry();
  const link = createSimLink({ pathA: A, pathB: B, registry, ...opts });
  const binding = createSimBinding(registry);
  tt.teardown(() => link.dispose());
  return { link, binding, registry };
}

function open(binding: SimBinding, path: string, baudRate: number, extra: { highWaterMark?: number } = {}): Promise<Port> {
  return new Promise((resolve, reject) => {
    const port: Port = new SerialPortStream({ binding, path, baudRate, ...extra }, (err) => (err ? reject(err) : resolve(port)));
  });
}

function close(port: Port): Promise<Error | null> {
  return new Promise((resolve, reject) => port.close((err) => (err && !('disconnected' in err) ? reject(err) : resolve(err))));
}

/** Collect exactly `n` bytes (or until `idleMs` passes without data, for lossy links). */
function collect(port: Port, n: number, idleMs = 0): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      port.off('data', onData);
      if (timer) clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    const arm = () => {
      if (idleMs > 0) {
        if (timer) clearTimeout(timer);
        timer = setTimeout(done, idleMs);
      }
    };
    const onData = (chunk: Buffer) => {
      chunks.push(Buffer.from(chunk));
      got += chunk.length;
      if (got >= n) done();
      else arm();
    };
    port.on('data', onData);
    arm();
  });
}

function writeInPieces(port: Port, data: Buffer, seed: number): void {
  let off = 0;
  let s = seed;
  while (off < data.length) {
    s = (s * 1103515245 + 12345) >>> 0;
    const len = 1 + (s % 3000);
    port.write(data.subarray(off, off + len));
    off += len;
  }
}

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

t.test('bytes arrive intact and in order, both ways at once', async (tt) => {
  const { link, binding } = setup(tt, { baudRate: 2_000_000 });
  const a = await open(binding, A, 2_000_000);
  const b = await open(binding, B, 2_000_000);
  const ab = randomBytes(64 * 1024);
  const ba = randomBytes(24 * 1024);
  const gotB = collect(b, ab.length);
  const gotA = collect(a, ba.length);
  writeInPieces(a, ab, 1);
  writeInPieces(b, ba, 2);
  tt.ok((await gotB).equals(ab), 'A→B intact');
  tt.ok((await gotA).equals(ba), 'B→A intact');
  const s = link.stats();
  tt.match(s.aToB, { written: ab.length, delivered: ab.length, dropped: 0, bitsFlipped: 0, overrun: 0, discarded: 0, garbled: 0 });
  tt.match(s.bToA, { written: ba.length, delivered: ba.length, dropped: 0, bitsFlipped: 0, overrun: 0 });
  tt.equal(await close(a), null);
  tt.equal(await close(b), null);
});

t.test('never delivers faster than the line rate, and adds latency', async (tt) => {
  const baud = 115_200;
  const latencyMs = 40;
  const { binding } = setup(tt, { baudRate: baud, latencyMs });
  const a = await open(binding, A, baud);
  const b = await open(binding, B, baud);
  const bytesPerMs = baud / 10 / 1000;
  const data = randomBytes(5760); // half a second of line time
  const arrivals: { at: number; total: number }[] = [];
  let total = 0;
  b.on('data', (chunk: Buffer) => {
    total += chunk.length;
    arrivals.push({ at: performance.now(), total });
  });
  const t0 = performance.now();
  a.write(data);
  await new Promise<void>((resolve) => a.drain(() => resolve()));
  const drainedAt = performance.now();
  tt.ok(drainedAt - t0 >= data.length / bytesPerMs - 1, 'drain waits until the last byte left the wire');
  while (total < data.length) await new Promise((r) => setTimeout(r, 10));
  tt.ok(arrivals.length > 5, `delivered progressively (${arrivals.length} chunks)`);
  tt.ok(arrivals[0]!.at - t0 >= latencyMs + 1 / bytesPerMs, 'first byte waits one byte time plus latency');
  const violations = arrivals.filter(({ at, total: n }) => n > (at - t0 - latencyMs) * bytesPerMs + 1);
  tt.same(violations, [], 'bytes received by t never exceed (t - t0 - latency) * baud / 10');
  await close(a);
  await close(b);
});

t.test('bit errors and drops follow the configured rates, repeatably', async (tt) => {
  const baud = 4_000_000;
  const data = randomBytes(50_000);
  const runFlips = async (seed: number) => {
    const { link, binding } = setup(tt, { baudRate: baud, bitErrorRate: 1e-3, seed });
    const a = await open(binding, A, baud);
    const b = await open(binding, B, baud);
    const got = collect(b, data.length);
    a.write(data);
    const out = await got;
    await close(a);
    await close(b);
    return { out, stats: link.stats().aToB, link };
  };
  const first = await runFlips(7);
  let diffBits = 0;
  for (let i = 0; i < data.length; i++) diffBits += popcount(data[i]! ^ first.out[i]!);
  tt.equal(diffBits, first.stats.bitsFlipped, 'counter matches the bits actually flipped');
  // 400,000 bits at 1e-3: mean 400, sd 20; allow 5 sd.
  tt.ok(diffBits > 300 && diffBits < 500, `about 400 bits flipped (got ${diffBits})`);
  first.link.dispose();
  const again = await runFlips(7);
  tt.ok(again.out.equals(first.out), 'same seed, same bytes: same corruption');

  const { link, binding } = setup(tt, { baudRate: baud, seed: 3 });
  const a = await open(binding, A, baud);
  const b = await open(binding, B, baud);
  link.setFaults({ dropRate: 0.01 });
  tt.throws(() => link.setFaults({ dropRate: 2 }), RangeError);
  const got = collect(b, data.length, 200);
  a.write(data);
  const out = await got;
  const s = link.stats().aToB;
  tt.equal(out.length, data.length - s.dropped, 'every missing byte is counted as dropped');
  tt.ok(s.dropped > 350 && s.dropped < 650, `about 500 bytes dropped (got ${s.dropped})`);
  let j = 0;
  for (let i = 0; i < data.length && j < out.length; i++) if (data[i] === out[j]) j++;
  tt.equal(j, out.length, 'what arrives is the sent bytes minus some, in order');
  await close(a);
  await close(b);
});

t.test('unplug disconnects the stream; replug lets it reopen', async (tt) => {
  const baud = 1_000_000;
  const { link, binding } = setup(tt, { baudRate: baud });
  const a = await open(binding, A, baud);
  const b = await open(binding, B, baud);
  const closedA = new Promise<Error | null>((resolve) => a.once('close', resolve));
  const closedB = new Promise<Error | null>((resolve) => b.once('close', resolve));
  a.on('data', () => undefined);
  b.on('data', () => undefined);
  await new Promise((r) => setImmediate(r)); // let both streams issue their reads
  link.unplug();
  const errB = await closedB;
  const errA = await closedA;
  tt.match(errB, { disconnected: true }, 'B closes with a DisconnectedError');
  tt.match(errA, { disconnected: true }, 'A closes with a DisconnectedError');
  tt.same(await binding.list(), [], 'unplugged paths are not listed');
  await tt.rejects(open(binding, A, baud), { code: 'ENOENT' }, 'open fails while unplugged');
  await tt.rejects(binding.open({ path: '/dev/nothing', baudRate: baud }), { code: 'ENOENT' });

  link.replug();
  tt.same((await binding.list()).map((p) => p.path), [A, B]);
  // The same stream object can reopen, as a reconnecting transport would do.
  await new Promise<void>((resolve, reject) => a.open((err) => (err ? reject(err) : resolve())));
  const b2 = await open(binding, B, baud);
  const data = randomBytes(10_000);
  const got = collect(b2, data.length);
  const back = collect(a, 4);
  a.write(data);
  b2.write('pong');
  tt.ok((await got).equals(data), 'bytes flow after replug');
  tt.equal((await back).toString(), 'pong', 'and back to the reopened stream');
  await close(a);
  await close(b2);
});

t.test('clean close: no errors, path reusable, ports are exclusive', async (tt) => {
  const baud = 115_200;
  const { link, binding } = setup(tt, { baudRate: baud });
  const a = await open(binding, A, baud);
  const errors: Error[] = [];
  a.on('error', (e) => errors.push(e));
  a.on('data', () => undefined); // a read is pending when we close
  await tt.rejects(open(binding, A, baud), { code: 'EBUSY' }, 'a second open of the same path fails');
  await new Promise((r) => setImmediate(r));
  const closed = new Promise<Error | null>((resolve) => a.once('close', resolve));
  tt.equal(await close(a), null);
  tt.equal(await closed, null, 'close event carries no error');
  await new Promise((r) => setTimeout(r, 20));
  tt.same(errors, [], 'no error events');
  const again = await open(binding, A, baud);
  tt.ok(again.isOpen, 'path can be opened again');
  // Bytes arriving at a port nobody has open are discarded, as a driver would.
  again.write(Buffer.alloc(100));
  await new Promise<void>((resolve) => again.drain(() => resolve()));
  await new Promise((r) => setTimeout(r, 20));
  tt.equal(link.stats().aToB.discarded, 100);
  await close(again);
});

t.test('the receive buffer is bounded: overflow is an overrun', async (tt) => {
  const baud = 4_000_000;
  const { link, binding } = setup(tt, { baudRate: baud, rxBufferBytes: 1024 });
  const a = await open(binding, A, baud);
  const b = await open(binding, B, baud); // not read yet: nothing drains its driver buffer
  a.write(Buffer.alloc(4096, 0x55));
  await new Promise<void>((resolve) => a.drain(() => resolve()));
  await new Promise((r) => setTimeout(r, 30));
  tt.match(link.stats().aToB, { written: 4096, overrun: 3072, buffered: 1024, delivered: 0 });
  const got = await collect(b, 1024);
  tt.equal(got.length, 1024);
  tt.equal(link.stats().aToB.delivered, 1024);
  await close(a);
  await close(b);
});

t.test('a port at the wrong baud rate receives noise', async (tt) => {
  const { link, binding } = setup(tt, { baudRate: 1_000_000 });
  const a = await open(binding, A, 1_000_000);
  const b = await open(binding, B, 9600);
  const data = Buffer.alloc(2000, 0x41);
  const got = collect(b, data.length);
  a.write(data);
  tt.notOk((await got).equals(data));
  tt.equal(link.stats().aToB.garbled, data.length);
  const status = await new Promise<unknown>((resolve) => a.get((_e, s) => resolve(s)));
  tt.same(status, { cts: true, dsr: true, dcd: true }, 'null-modem: peer open raises CTS/DSR/DCD');
  await close(a);
  await close(b);
});

t.test('backpressure reaches the stream', async (tt) => {
  const baud = 9600;
  const big = setup(tt, { baudRate: baud, pathA: '/dev/bigA', pathB: '/dev/bigB' });
  const a = await open(big.binding, '/dev/bigA', baud);
  const errors: Error[] = [];
  a.on('error', (e) => errors.push(e));
  const t0 = performance.now();
  tt.equal(a.write(Buffer.alloc(100 * 1024)), false, 'write of 100 KB at 9600 baud returns false');
  await new Promise((r) => setTimeout(r, 200));
  const s = big.link.stats().aToB;
  // What left the wire is bounded by the line rate; the binding holds at most its 4 KiB buffer.
  const onWire = Math.ceil(((performance.now() - t0) * baud) / 10_000) + 1;
  tt.ok(s.written <= 4096 + onWire, `the binding accepted only its transmit buffer (${s.written} B)`);
  tt.ok(s.queued <= 4096, 'transmit buffer stays bounded');
  tt.ok(a.writableLength >= 100 * 1024 - 4096 - onWire, 'the rest waits in the stream');
  // Closing with a write in flight cancels it; the stream reports that as an error (upstream).
  await close(a);
  await new Promise((r) => setTimeout(r, 10));
  tt.match(errors, [{ canceled: true }], 'the pending write is canceled, not disconnected');

  // Small enough to finish quickly: 2 KB through a 512 B transmit buffer at 9600 baud.
  const { link, binding } = setup(tt, { baudRate: baud, txBufferBytes: 512 });
  const p = await open(binding, A, baud, { highWaterMark: 256 });
  const data = Buffer.alloc(2048, 1);
  tt.equal(p.write(data), false, 'write returns false');
  await new Promise<void>((resolve) => p.once('drain', () => resolve()));
  tt.equal(link.stats().aToB.written, data.length, "'drain' fires once the binding took every byte");
  await new Promise<void>((resolve) => p.drain(() => resolve()));
  tt.match(link.stats().aToB, { queued: 0 }, 'port.drain() resolves once the wire is empty');
  await close(p);
});

t.test('binding ports: control operations, flush, dead ports after replug', async (tt) => {
  const baud = 1_000_000;
  const { link, binding, registry } = setup(tt, { baudRate: baud });
  tt.throws(() => createSimLink({ pathA: 'x', pathB: B, registry }), /already exists/);
  tt.same((await binding.list()).map((p) => p.path), [A, B], 'a failed link leaves the registry as it was');
  tt.same(link.getFaults(), { bitErrorRate: 0, dropRate: 0, latencyMs: 0 });
  const a = await binding.open({ path: A, baudRate: baud });
  const b = await binding.open({ path: B, baudRate: baud });
  tt.match(a.openOptions, { path: A, baudRate: baud, dataBits: 8, stopBits: 1, parity: 'none', lock: true });
  await b.set({ dtr: false, rts: true });
  tt.same(await a.get(), { cts: true, dsr: false, dcd: false }, 'DSR/DCD follow the peer DTR');
  await a.update({ baudRate: 57600 });
  tt.same(await a.getBaudRate(), { baudRate: 57600 });
  await tt.rejects(a.update({ baudRate: -1 }), TypeError);
  await a.update({ baudRate: baud });

  await a.write(Buffer.alloc(3000, 7));
  await a.drain();
  await new Promise((r) => setTimeout(r, 20));
  tt.equal(link.stats().aToB.buffered, 3000);
  await b.flush();
  tt.match(link.stats().aToB, { buffered: 0, discarded: 3000 }, 'flush drops unread bytes');

  const buf = Buffer.alloc(16);
  const pendingRead = b.read(buf, 0, 16);
  link.unplug();
  await tt.rejects(pendingRead, { code: 'ENXIO', disconnect: true }, 'pending read fails on unplug');
  await tt.rejects(a.write(Buffer.from('x')), { code: 'ENXIO' }, 'writes fail on a dead port');
  await tt.rejects(a.get(), { code: 'ENXIO' });
  tt.ok(a.isOpen, 'a dead port stays open until closed, like a vanished device fd');

  link.replug();
  const b2 = await binding.open({ path: B, baudRate: baud });
  const read2 = b2.read(Buffer.alloc(4), 0, 4);
  await b.close(); // the old port must not disturb the new one
  tt.notOk(b.isOpen);
  await tt.rejects(b.close(), { code: 'ENOTOPEN' });
  await tt.rejects(b.read(buf, 0, 1), { code: 'ECANCELED', canceled: true });
  await a.close();
  const a2 = await binding.open({ path: A, baudRate: baud });
  await a2.write(Buffer.from('ping'));
  const { bytesRead, buffer } = await read2;
  tt.equal(buffer.subarray(0, bytesRead).toString(), 'ping'.slice(0, bytesRead));
  const read3 = b2.read(Buffer.alloc(4), 0, 4);
  await b2.close();
  await tt.rejects(read3, { code: 'ECANCELED', canceled: true }, 'close cancels the pending read');
  await tt.rejects(b2.flush(), { code: 'ENOTOPEN' });
  await a2.close();
});
