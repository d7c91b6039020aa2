/**
 * The serial wiring of the simulated device (firmware-sim/device/serial-wiring.ts) against a
 * recording DeviceEnd: the device side sees message bodies only — exactly the bodies the peer
 * framed, once each, ARQ-reassembled where the peer speaks ARQ — and its bodies reach the peer as
 * one frame each (plain, or through the ARQ once the peer spoke it). Port open, close and
 * replace drive connect/disconnect.
 */
import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { SerialPortStream } from '@serialport/stream';
import { SerialFrameDecoder, encodeSerialFrame } from '../protocol/serial-frame.js';
import { decodeArqFrame, isArqFrame } from '../protocol/arq/wire.js';
import { ArqLink } from '../agent/transport/arq-link.js';
import { SimRegistry, createSimBinding, createSimLink, type SimBinding } from '../firmware-sim/uart/index.js';
import { attachDeviceToSerialPort, type DeviceEnd, type DeviceLink, type DeviceSerialOptions } from '../firmware-sim/device/index.js';

type Port = SerialPortStream<SimBinding>;

// Idle simulated lines and the wiring's timers are unref'd: keep the process alive while awaiting.
const keepAlive = setInterval(() => undefined, 60_000);
t.teardown(() => clearInterval(keepAlive));

const MAX_FRAME = 2048;
/** Line rate of the cables (ports must open at it); fast, so the tests do not wait on the line. */
const BAUD = 4_000_000;

/** A DeviceEnd that records what the wiring does to it. */
class Recorder implements DeviceEnd {
  readonly maxFrame = MAX_FRAME;
  readonly bodies: Uint8Array[] = [];
  readonly errors: Error[] = [];
  connects = 0;
  disconnects = 0;
  link: DeviceLink | null = null;
  connect(link: DeviceLink): void {
    this.connects++;
    this.link = link;
  }
  disconnect(): void {
    this.disconnects++;
    this.link = null;
  }
  onBody(body: Uint8Array): void {
    this.bodies.push(Uint8Array.from(body));
  }
  linkError(err: Error): void {
    this.errors.push(err);
  }
}

function openPort(binding: SimBinding, path: string): Promise<Port> {
  return new Promise((resolve, reject) => {
    const port: Port = new SerialPortStream({ binding, path, baudRate: BAUD }, (err) => (err ? reject(err) : resolve(port)));
  });
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let n = 0;
/** A recorder wired to one end of a fresh cable; the other end is a raw port the test drives. */
async function setup(tt: { teardown(fn: () => unknown): void }, options: DeviceSerialOptions = {}) {
  const registry = new SimRegistry();
  const tag = n++;
  const link = createSimLink({ pathA: `/dev/wireA${tag}`, pathB: `/dev/wireB${tag}`, registry, baudRate: BAUD });
  const binding = createSimBinding(registry);
  const devPort = await openPort(binding, `/dev/wireA${tag}`);
  const peer = await openPort(binding, `/dev/wireB${tag}`);
  const received: Buffer[] = [];
  peer.on('data', (c: Buffer) => received.push(c));
  const device = new Recorder();
  const att = attachDeviceToSerialPort(device, devPort, options);
  tt.teardown(async () => {
    att.detach();
    for (const p of [devPort, peer]) if (p.isOpen) await new Promise((r) => p.close(r));
    link.dispose();
  });
  /** The frame bodies the peer has received so far. */
  const peerFrames = (): Uint8Array[] => new SerialFrameDecoder(65536).push(Buffer.concat(received)).frames;
  return { device, att, devPort, peer, received, peerFrames, binding, tag };
}

const messageLike = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => {
  b[0] = 0x80 | (b[0]! & 0x1f);
  return b;
});

t.test('plain: bodies in and out exactly, one frame each; a lone 0x00 opens the link', async (tt) => {
  const { device, peer, received, peerFrames } = await setup(tt);
  tt.equal(device.connects, 1, 'connected at once: the port was open');
  const out = [Uint8Array.of(0x82, 1, 2), randomBytes(MAX_FRAME).map((x) => x | 0x80)];
  for (const b of out) device.link!.send(b);
  await until(() => peerFrames().length === 2, 'the peer got both');
  tt.equal(received[0]![0], 0, 'the first byte on the wire ends any partial frame');
  tt.same(peerFrames(), out, 'each body one plain frame, byte for byte');

  await fc.assert(
    // Bodies that look like messages (first byte 0x80-0x9f), so none is taken for an ARQ frame.
    fc.asyncProperty(fc.array(messageLike, { minLength: 1, maxLength: 12 }), async (bodies) => {
      device.bodies.length = 0;
      for (const b of bodies) peer.write(Buffer.from(encodeSerialFrame(b)));
      await until(() => device.bodies.length >= bodies.length, 'bodies at the device');
      return device.bodies.length === bodies.length && bodies.every((b, i) => Buffer.from(b).equals(device.bodies[i]!));
    }),
    { numRuns: 20 },
  );
  tt.equal(device.errors.length, 0);
});

t.test('link errors: bad CRC and oversize frames reach the device as errors, never as bodies', async (tt) => {
  const { device, peer } = await setup(tt);
  const bad = encodeSerialFrame(Uint8Array.of(0x82, 1, 2));
  bad[2]! ^= 0x40;
  peer.write(Buffer.from(bad));
  peer.write(Buffer.from(encodeSerialFrame(new Uint8Array(MAX_FRAME + 64).fill(0x81))));
  peer.write(Buffer.from(encodeSerialFrame(Uint8Array.of(0x82, 9))));
  await until(() => device.bodies.length === 1, 'the good frame');
  tt.equal(device.errors.length, 2, 'two errors reported');
  tt.same(device.bodies, [Uint8Array.of(0x82, 9)]);
});

t.test('ARQ: the peer speaks it, the device gets reassembled bodies and its answers go through the ARQ', async (tt) => {
  const { device, peer, received, peerFrames } = await setup(tt);
  const arq = new ArqLink(peer, { description: 'peer', decoder: new SerialFrameDecoder(), encode: encodeSerialFrame, baudRate: BAUD, maxFrame: MAX_FRAME });
  const got: Uint8Array[] = [];
  arq.on('frame', (f) => got.push(f));
  tt.teardown(() => arq.close());
  const big = randomBytes(MAX_FRAME).map((x) => x | 0x80);
  arq.send(Uint8Array.of(0x82, 7));
  arq.send(big);
  await until(() => device.bodies.length === 2, 'both messages at the device');
  tt.same(device.bodies, [Uint8Array.of(0x82, 7), big], 'whole messages, in order: never an ARQ frame');
  received.length = 0;
  device.link!.send(Uint8Array.of(0x83, 1));
  await until(() => got.length === 1, 'the answer at the peer');
  tt.same(got, [Uint8Array.of(0x83, 1)]);
  tt.ok(peerFrames().every(isArqFrame), 'answered through the ARQ (auto mode switched)');
});

t.test("linkLayer 'plain' answers plainly even to an ARQ peer; 'arq' starts with ARQ", async (tt) => {
  for (const linkLayer of ['plain', 'arq'] as const) {
    const { device, peer, received, peerFrames } = await setup(tt, { linkLayer });
    const arq = new ArqLink(peer, { description: 'peer', decoder: new SerialFrameDecoder(), encode: encodeSerialFrame, baudRate: BAUD, maxFrame: MAX_FRAME });
    tt.teardown(() => arq.close());
    arq.send(Uint8Array.of(0x82, 1));
    await until(() => device.bodies.length === 1, `${linkLayer}: understood`);
    const answer = Uint8Array.of(0x83, 2);
    device.link!.send(answer);
    const plain = (): boolean => peerFrames().some((f) => Buffer.from(f).equals(answer));
    const viaArq = (): boolean =>
      peerFrames().some((f) => {
        const d = decodeArqFrame(f);
        return d.kind === 'data' && Buffer.from(d.data).equals(answer);
      });
    await until(() => plain() || viaArq(), `${linkLayer}: answer`);
    const how = linkLayer === 'arq' ? 'through the ARQ' : 'plainly';
    tt.same({ plain: plain(), viaArq: viaArq() }, { plain: linkLayer === 'plain', viaArq: linkLayer === 'arq' }, `${linkLayer}: answered ${how}`);
  }
});

t.test('close, reopen and replace start the session over', async (tt) => {
  const { device, att, devPort, binding, tag } = await setup(tt);
  await new Promise((r) => devPort.close(r));
  tt.equal(device.disconnects, 1, 'close disconnects');
  await new Promise<void>((resolve, reject) => devPort.open((err) => (err ? reject(err) : resolve())));
  await until(() => device.connects === 2, 'reopen connects');
  const first = device.link!;
  await new Promise((r) => devPort.close(r));
  const other = await openPort(binding, `/dev/wireA${tag}`);
  att.replace(other);
  tt.equal(device.disconnects, 3, 'replace disconnects the old port');
  tt.equal(device.connects, 3, 'and connects on the new one');
  tt.not(device.link, first, 'with a fresh link');
  att.detach();
  tt.equal(device.link, null, 'detach disconnects');
  att.detach();
  tt.equal(device.disconnects, 4, 'once: detach is idempotent');
  await new Promise((r) => other.close(r));
});

t.test('the device side of the seam: bodies only, counted as bodies; oversize ones are bad frames', async (tt) => {
  const { SimDevice } = await import('../firmware-sim/device/index.js');
  const { decodeMessage } = await import('../protocol/index.js');
  const dev = new SimDevice({ trustAny: true, handshakeRetryMs: 60_000 });
  tt.teardown(() => dev.stop());
  const sent: Uint8Array[] = [];
  dev.connect({ send: (b) => void sent.push(Uint8Array.from(b)) });
  tt.equal(sent.length, 1, 'one body: the Hello, no framing byte');
  tt.equal(decodeMessage(sent[0]!).type, 'Hello');
  const bad: Error[] = [];
  dev.on('bad-frame', (e) => bad.push(e));
  dev.onBody(new Uint8Array(dev.maxFrame + 1).fill(0x82));
  tt.match(bad, [{ name: 'TooLargeError' }], 'a body over maxFrame is dropped as a frame decoder would');
  tt.match(dev.stats, { framesIn: 0, badFrames: 1, framesOut: 1, bytesOut: sent[0]!.length });
  dev.disconnect();
  tt.equal(dev.state, 'idle');
});
