/**
 * Issue 16's fleet benchmark on the v2 engine (design v2-scopes §6.3, §9 step 8): one gateway
 * `EngineV2` (device scopes on, an open-read `fleet/acme` it creates) and N v2 simulated devices
 * (firmware-sim/device-v2), each on its own in-process message seam (sealed: both `prefer`), all
 * on one event loop; N = 20 and N = 200, each in its own child `node --expose-gc` (run side by
 * side) so its memory figures start from a fresh heap, then a third child of 200 idle devices
 * for the gateway's idle heap. Rates are the issue's, in real time (the engine takes no injected
 * timers, so time cannot be compressed): telemetry 1 Hz per device (its own loop), an order per
 * device every 10 s (phases spread over the period), a fleet config every 60 s; engine and device
 * default pacing. After all devices hold both scopes, a warm-up, then a window of equal length
 * at both sizes in which bytes are counted; then a drain until what the window committed arrived.
 */
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Link, LinkEvents } from '../agent/link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { MEMBERSHIP_SLOTS, SimDeviceV2 } from '../firmware-sim/device-v2/index.js';
import { encodeCbor } from '../protocol/cbor.js';
import { MAX_COMMAND_BYTES } from '../protocol/constants.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import type { SealPolicy } from '../protocol/seal.js';
import { LatencyHistogram, QUICK, notes, round, sleep, until, vmRssMb } from './util.js';

const CHILD_FLAG = 'fleet-child';
const FLEET = 'fleet/acme';
const ORDER_MS = 10_000;
const CONFIG_MS = 60_000;

/** Phases of one size, seconds. */
interface Phases { warmS: number; windowS: number; drainS: number }

/** What one child measures for N devices. */
interface SizeFigures {
  n: number;
  setupS: number;
  /** Bytes of frame bodies the gateway handed each device's seam, per device per second of the window. */
  rxBytesPerDeviceS: number;
  txBytesPerDeviceS: number;
  /** PollRequests the devices answered (the gateway's polls) and sent, per device per second. */
  gwPollsPerDeviceS: number;
  devicePollsPerDeviceS: number;
  foreign: number;
  rejected: number;
  storeBytesMax: number;
  storeCommandsMax: number;
  storeBoundBytes: number;
  heapBytesPerDevice: number;
  rssBytesPerDevice: number;
  /** Heap the gateway released on close, per device: its own share at the window's end. */
  gatewayHeapBytesPerDeviceEnd: number;
  orderMs: number[];
  configMs: number[];
  /** Orders/configs committed in the window that some device still lacked after the drain. */
  missing: number;
}

/** The gateway's end of one device's seam: bodies reach the device on a later turn, as on a wire. */
class Seam extends EventEmitter<LinkEvents> implements Link {
  readonly description = 'seam:device';
  readonly maxFrame = 2048;
  readonly sealPolicy: SealPolicy = 'prefer';
  open = true;
  rx = 0;
  tx = 0;
  constructor(private readonly device: SimDeviceV2) {
    super();
    device.connect({
      send: (b) => {
        this.tx += b.length;
        const copy = Uint8Array.from(b);
        setImmediate(() => this.open && this.emit('frame', copy));
      },
      close: () => void this.close(),
    });
  }
  send(body: Uint8Array): boolean {
    this.rx += body.length;
    const copy = Uint8Array.from(body);
    if (this.open) setImmediate(() => this.open && this.device.onBody(copy));
    return true;
  }
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.device.disconnect();
    this.emit('close');
  }
}

const gc = (): void => {
  const f = (globalThis as { gc?: () => void }).gc;
  if (f === undefined) throw new Error('run with --expose-gc');
  f();
  f();
};
const heapBytes = (): number => (gc(), process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers);
const rssBytes = (): number => vmRssMb(process.pid) * 2 ** 20;

/** Encoded bytes and commands a device retains over its held scopes (rings and membership commands). */
function deviceStore(d: SimDeviceV2): { bytes: number; commands: number } {
  let bytes = 0;
  let commands = 0;
  for (const s of d.scopes) {
    if (s.state !== 'held') continue;
    for (const r of [s.ring, s.members]) for (let i = 0; i < r.count; i++) bytes += r.bytesAt(i).length;
    commands += s.total;
  }
  return { bytes, commands };
}

/** Run one fleet of `n` devices through the phases (the child's work). */
async function runSize(n: number, p: Phases): Promise<SizeFigures> {
  const t0 = performance.now();
  const gi = generateIdentity();
  const devices = Array.from({ length: n }, () => new SimDeviceV2({ trustedKeys: [gi.publicKey], joinScopes: [FLEET] }));
  const heap0 = heapBytes();
  const rss0 = rssBytes();
  let gw: EngineV2 | null = await EngineV2.open({
    identity: gi, trust: { mode: 'list', keys: devices.map((d) => d.identity.publicKey) },
    scopes: { max: Infinity, deviceScopes: {} },
    tuning: { subscriptionCapacity: 512 }, // two (peer, scope) slots per device once pushes exist (ARCHITECTURE.md)
  });
  await gw.createScope({ name: FLEET, members: [{ publicKey: gi.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  const scopeOf = new Map<string, string>(); // command id hex -> the gateway's scope name
  gw.on('appended', (e) => scopeOf.set(toHex(e.id), e.scope));
  let inWindow = false;
  let foreign = 0;
  const sent = new Map<string, number>(); // payload hex -> commit time, for what was committed in the window
  const waiting = new Map<string, number>(); // payload hex -> devices still lacking it
  const orderH = new LatencyHistogram();
  const configH = new LatencyHistogram();
  const got = (payload: Uint8Array, h: LatencyHistogram): void => {
    const k = toHex(payload);
    const at = sent.get(k);
    if (at === undefined) return;
    h.recordMs(performance.now() - at);
    const left = (waiting.get(k) ?? 1) - 1;
    if (left > 0) waiting.set(k, left);
    else waiting.delete(k);
  };
  let active = 0;
  const seams = devices.map((d) => {
    const own = `device/${d.peerId}`;
    d.on('active', () => active++);
    d.on('order', (payload) => got(payload, orderH));
    d.on('command', (scope, c) => {
      const gws = scopeOf.get(toHex(c.id));
      if ((scope !== own && scope !== FLEET) || (gws !== undefined && gws !== own && gws !== FLEET)) foreign++;
      if (scope === FLEET) got(c.payload, configH);
    });
    const seam = new Seam(d);
    gw?.attach(seam);
    return seam;
  });
  await until(() => active >= 2 * n, 60_000 + 100 * n, `${n} devices holding both scopes`, 20);
  const setupS = (performance.now() - t0) / 1000;
  await sleep(500);
  const heap1 = heapBytes();
  const rss1 = rssBytes();

  const timers: NodeJS.Timeout[] = [];
  let orderNo = 0;
  const commit = (scope: string, payload: Uint8Array, fanout: number): void => {
    const k = toHex(payload);
    if (inWindow) {
      sent.set(k, performance.now());
      waiting.set(k, fanout);
    }
    gw?.commit(scope, payload).catch((err: unknown) => console.error(`fleet: commit to ${scope} failed: ${String(err)}`));
  };
  devices.forEach((d, i) => {
    timers.push(setTimeout(() => d.start(), Math.random() * 1000));
    const order = (): void => commit(`device/${d.peerId}`, encodeCbor([d.peerId, 'order', ++orderNo]), 1);
    timers.push(setTimeout(() => (order(), timers.push(setInterval(order, ORDER_MS))), (i / n) * ORDER_MS));
  });
  await sleep(p.warmS * 1000);

  inWindow = true;
  const config = (): void => commit(FLEET, encodeCbor(['config', Date.now()]), n);
  timers.push(setTimeout(() => (config(), timers.push(setInterval(config, CONFIG_MS))), 1000));
  const snap = (): number[] => [seams.reduce((s, x) => s + x.rx, 0), seams.reduce((s, x) => s + x.tx, 0), devices.reduce((s, d) => s + d.stats.pollsAnswered, 0), devices.reduce((s, d) => s + d.stats.pollsSent, 0)];
  const before = snap();
  let storeBytesMax = 0;
  let storeCommandsMax = 0;
  const end = performance.now() + p.windowS * 1000;
  while (performance.now() < end) {
    await sleep(1000);
    for (const d of devices) {
      const s = deviceStore(d);
      storeBytesMax = Math.max(storeBytesMax, s.bytes);
      storeCommandsMax = Math.max(storeCommandsMax, s.commands);
    }
  }
  const after = snap();
  inWindow = false;
  const windowS = p.windowS;
  const per = (i: number): number => (windowS > 0 ? (after[i]! - before[i]!) / n / windowS : 0);
  const heap2 = heapBytes();

  for (const t of timers) clearTimeout(t); // also clears intervals
  await until(() => waiting.size === 0, p.drainS * 1000, 'drain', 50).catch(() => undefined);
  const missing = [...waiting.values()].reduce((s, x) => s + x, 0);
  const held = devices.find((d) => d.scopes.filter((s) => s.state === 'held').length === 2) ?? devices[0]!;
  const storeBoundBytes = held.scopes.filter((s) => s.state === 'held').reduce((s, x) => s + (x.ring.capacity + MEMBERSHIP_SLOTS) * MAX_COMMAND_BYTES, 0);
  for (const d of devices) d.stop();
  const rejected = devices.reduce((s, d) => s + d.stats.rejectedCommands, 0);
  await gw.close();
  gw = null;
  for (const s of seams) s.removeAllListeners();
  scopeOf.clear();
  sent.clear();
  await sleep(200);
  // What the closed gateway let go of: its heap at the window's end (the devices' part stays).
  const heap3 = heapBytes();
  return {
    n, setupS, rxBytesPerDeviceS: per(0), txBytesPerDeviceS: per(1), gwPollsPerDeviceS: per(2), devicePollsPerDeviceS: per(3),
    foreign, rejected, storeBytesMax, storeCommandsMax, storeBoundBytes,
    heapBytesPerDevice: (heap1 - heap0) / n, rssBytesPerDevice: (rss1 - rss0) / n, gatewayHeapBytesPerDeviceEnd: (heap2 - heap3) / n,
    orderMs: orderH.samples, configMs: configH.samples, missing,
  };
}

/** One child process for `n` devices; its figures. */
function runChild(n: number, p: Phases): Promise<SizeFigures> {
  const args = ['--expose-gc', fileURLToPath(import.meta.url), CHILD_FLAG, String(n), JSON.stringify(p)];
  const limitMs = (p.warmS + p.windowS + p.drainS) * 1000 + 90_000;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: limitMs }, (err, stdout, stderr) => {
      if (err !== null) return reject(new Error(`fleet child (${n} devices) failed: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as SizeFigures);
      } catch (e) {
        reject(new Error(`fleet child (${n} devices): no figures: ${String(e)}\n${stderr}`));
      }
    });
  });
}

/** p-th percentile of a list (nearest rank), NaN when empty. */
function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/**
 * `fleet.*`: per size (`.20`, `.200`) what one device receives (bytes/s in the window), the
 * gateway's and the device's poll rates, the device store, the gateway's memory per device and
 * gateway commit → device latency; the 200/20 rx ratio (target ≤ 1.1) and foreign commands
 * (target 0) over both sizes. Quick: shorter warm-up, window and drain.
 */
export async function benchFleet(): Promise<Record<string, number>> {
  const p: Phases = QUICK ? { warmS: 3, windowS: 15, drainS: 4 } : { warmS: 10, windowS: 60, drainS: 10 };
  const out: Record<string, number> = {};
  // Side by side: the 200-device child keeps about half a core busy, the 20-device one little, and
  // what a device receives is set by pacing, not by CPU; so each size can have a window as long
  // as the device's 60 s anti-entropy period within the time limit.
  const sizes = await Promise.all([20, 200].map((n) => runChild(n, p)));
  // Alone afterwards: 200 devices connected and idle, then the gateway closed: the heap it held per device.
  const idle = await runChild(200, { warmS: 0, windowS: 0, drainS: 0 });
  for (const f of sizes) {
    const n = f.n;
    const k = `fleet.${n}`;
    const lat = [...f.orderMs, ...f.configMs];
    const latency = (name: string, xs: number[], q: number): Record<string, number> => (xs.length === 0 ? {} : { [name]: round(pct(xs, q), 1) });
    Object.assign(out, {
      [`fleet.rx_bytes_per_device_s.${n}`]: round(f.rxBytesPerDeviceS, 1),
      [`fleet.tx_bytes_per_device_s.${n}`]: round(f.txBytesPerDeviceS, 1),
      [`${k}.gateway_polls_per_device_s`]: round(f.gwPollsPerDeviceS, 3),
      [`${k}.device_polls_per_device_s`]: round(f.devicePollsPerDeviceS, 3),
      [`fleet.device_store_bytes_max.${n}`]: f.storeBytesMax,
      [`${k}.heap_kb_per_device`]: round(f.heapBytesPerDevice / 1024, 1),
      [`${k}.rss_kb_per_device`]: round(f.rssBytesPerDevice / 1024, 1),
      [`${k}.gateway_heap_kb_per_device_end`]: round(f.gatewayHeapBytesPerDeviceEnd / 1024, 1),
      ...latency(`fleet.push_latency_ms.${n}.p50`, lat, 50),
      ...latency(`fleet.push_latency_ms.${n}.p99`, lat, 99),
      ...latency(`${k}.order_latency_ms_p99`, f.orderMs, 99),
      ...latency(`${k}.config_latency_ms_p99`, f.configMs, 99),
      [`${k}.not_delivered`]: f.missing,
      [`${k}.setup_s`]: round(f.setupS, 1),
    });
  }
  const [small, large] = sizes as [SizeFigures, SizeFigures];
  out['fleet.rx_bytes_ratio_200_vs_20'] = round(large.rxBytesPerDeviceS / small.rxBytesPerDeviceS, 3);
  out['fleet.foreign_commands_received'] = small.foreign + large.foreign;
  out['fleet.device_rejected_commands'] = small.rejected + large.rejected;
  out['fleet.device_store_bound_bytes'] = large.storeBoundBytes;
  out['fleet.200.gateway_heap_kb_per_device_idle'] = round(idle.gatewayHeapBytesPerDeviceEnd / 1024, 1);
  notes.push(`fleet: real time, warm-up ${p.warmS} s, window ${p.windowS} s, drain ≤ ${p.drainS} s per size; commands retained per device at most ${small.storeCommandsMax} (20) / ${large.storeCommandsMax} (200); latency samples ${small.orderMs.length + small.configMs.length} (20) / ${large.orderMs.length + large.configMs.length} (200); latency = gateway commit() called → the device stored it (pushed while the device is subscribed, else at its next poll).`);
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === CHILD_FLAG) {
  const keepAlive = setInterval(() => undefined, 60_000);
  const f = await runSize(Number(process.argv[3] ?? 20), JSON.parse(process.argv[4] ?? '{}') as Phases);
  clearInterval(keepAlive);
  process.stdout.write(`${JSON.stringify(f)}\n`);
  setTimeout(() => process.exit(0), 100).unref();
}
