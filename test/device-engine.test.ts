/**
 * A simulated device and a real engine over the real serial transport on the simulated UART:
 * regressions the chaos soak found.
 *
 * - A device that wrote many commands while its uplink was away delivers each of them once and
 *   the engine's poll round ends (it used to resend the same few forever: its commands were
 *   siblings, and the engine can name only 10 heads).
 * - A device whose ring is full of commands nobody holds refuses new ones (typed error, counted)
 *   instead of overwriting accepted data, and accepts again once the uplink has them.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { SerialPortStream } from '@serialport/stream';
import { MemoryStore } from '../agent/store/memory-store.js';
import { Engine } from '../agent/sync/engine.js';
import { openTransport } from '../agent/transport/registry.js';
import { DeviceRingFullError, attachDeviceToSerialPort, createDevice, type SimDevice } from '../firmware-sim/device/index.js';
import { SimRegistry, createSimBinding, createSimLink } from '../firmware-sim/uart/index.js';
import { decodeCommand, generateIdentity, toHex } from '../protocol/index.js';
import { peerOf } from '../testkit/engines.js';

const BAUD = 115_200;
const keepAlive = setInterval(() => undefined, 60_000);
t.teardown(() => clearInterval(keepAlive));

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A gateway engine and a device (not yet connected) on the two ends of a simulated UART. */
async function rig(tt: { teardown(fn: () => unknown): void }, ringSize: number, telemetryMs = 3_600_000) {
  const registry = new SimRegistry();
  const binding = createSimBinding(registry);
  const tag = randomBytes(3).toString('hex');
  const uart = createSimLink({ pathA: `/dev/gw-${tag}`, pathB: `/dev/dev-${tag}`, baudRate: BAUD, registry });
  const gwId = generateIdentity();
  const devId = generateIdentity();
  const store = new MemoryStore();
  // Small poll answers, so a backlog takes many rounds trips.
  const gw = new Engine({ identity: gwId, store, trust: { mode: 'list', keys: [gwId.publicKey, devId.publicKey] }, pollMaxBytes: 1536 });
  const dev = createDevice({ identity: devId, trustedKeys: [gwId.publicKey], ringSize, telemetryMs, pollMs: 500, handshakeRetryMs: 300 });
  const transport = await openTransport(`serial:${uart.a.path}?baud=${BAUD}`, { selfId: gw.peerId, binding, reconnectBaseMs: 50, reconnectMaxMs: 200 });
  transport.on('link', (l) => gw.attach(l));
  // The gateway writes a little history of its own first, so the device's parents are not roots.
  for (let i = 0; i < 5; i++) await gw.commit(randomBytes(40));
  let port: SerialPortStream | null = null;
  let attachment: ReturnType<typeof attachDeviceToSerialPort> | null = null;
  const openPort = (): SerialPortStream => {
    const p = new SerialPortStream({ binding, path: uart.b.path, baudRate: BAUD });
    p.on('error', () => undefined);
    return (port = p);
  };
  // Plugged in later by connect(); telemetry runs meanwhile when started.
  const connect = (): void => {
    attachment = attachDeviceToSerialPort(dev, openPort());
    dev.start();
  };
  /** Pull the cable, run `meanwhile`, plug it back in (the device opens a new port, as after a replug). */
  const unplugged = async (meanwhile: () => void): Promise<void> => {
    uart.unplug();
    meanwhile();
    await new Promise((r) => setTimeout(r, 200));
    uart.replug();
    attachment!.replace(openPort());
  };
  tt.teardown(async () => {
    dev.stop();
    await transport.close();
    await gw.close();
    if (port?.isOpen) await new Promise<void>((r) => port!.close(() => r()));
    uart.dispose();
  });
  return { gw, store, dev, connect, unplugged };
}

const heldBy = (store: MemoryStore, dev: SimDevice, ids: Uint8Array[]): number => ids.filter((id) => store.indexOf(id) >= 0 && dev.ring.has(id)).length;

t.test('a device with 40 unsynced commands delivers each once and the poll round ends', async (tt) => {
  const { gw, store, dev, connect, unplugged } = await rig(tt, 64);
  connect();
  // First the device holds (and knows the gateway holds) the gateway's history...
  await until(() => dev.ring.count === 5 && dev.ring.isHeld(4), 10_000, 'the gateway history at the device');
  // ...then writes 40 commands while its cable is out.
  const ids: Uint8Array[] = [];
  await unplugged(() => {
    for (let i = 0; i < 40; i++) ids.push(dev.commit(randomBytes(120)).id);
  });
  tt.same(decodeCommand(dev.ring.bytesAt(dev.ring.count - 1)).parents.map(toHex), [toHex(ids[38]!)], 'own commands form a chain');
  const before = gw.snapshot().ingest.duplicates;
  await until(() => heldBy(store, dev, ids) === ids.length, 30_000, 'every device command at the gateway');
  await until(() => (peerOf(gw, dev.peerId)?.sync.rounds ?? 0) >= 1, 10_000, 'the gateway poll round to end');
  tt.equal(gw.snapshot().ingest.duplicates - before, 0, 'no device command arrived twice');
  tt.ok(dev.stats.pollsAnswered < 25, `${dev.stats.pollsAnswered} poll answers for 40 commands`);
});

t.test('a ring full of unsynced own commands refuses new ones, then accepts again once they are held', async (tt) => {
  // Telemetry every 100 ms into a ring of 8 while the cable is not plugged in yet.
  const { store, dev, connect } = await rig(tt, 8, 100);
  const acked: Uint8Array[] = [];
  dev.on('commit', (c) => acked.push(c.id));
  dev.start();
  await until(() => dev.stats.commitsRefused >= 3, 10_000, 'refusals');
  tt.equal(dev.stats.commits, 8, 'eight accepted: the ring size');
  tt.equal(acked.length, 8, 'a refused commit is not announced');
  tt.ok(dev.ring.fullOfUnsynced);
  tt.throws(() => dev.commit(randomBytes(60)), DeviceRingFullError, 'an explicit commit is refused with a typed error');
  connect();
  // The device learns they are held from the heads in the gateway's answer to its next poll,
  // and telemetry resumes; everything it ever accepted reaches the gateway.
  await until(() => dev.stats.commits >= 20, 30_000, 'telemetry to resume');
  await until(() => acked.every((id) => store.indexOf(id) >= 0), 30_000, 'every accepted command at the gateway');
  tt.equal(dev.ring.lostOwn, 0, 'nothing accepted was ever overwritten');
});
