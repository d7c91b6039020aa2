/**
 * Shared benchmark helpers: statistics (median, hdr histogram), free ports, a real Mosquitto
 * started on a free port, and engine pairs joined by real transports (TCP loopback, MQTT through
 * the broker, serial over the simulated 115200-baud UART). Everything runs the compiled code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import * as hdr from 'hdr-histogram-js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { Engine, type EngineOptions } from '../agent/sync/engine.js';
import { attachLinks, attachTransport, type AttachedTransport, type LinkSink } from '../agent/node/attach-transport.js';
import type { OpenedTransport, TransportOptions } from '../agent/transport/registry.js';
import { SimRegistry, createSimBinding, createSimLink, type SimLink } from '../firmware-sim/uart/index.js';
import { generateIdentity, type Identity } from '../protocol/keys.js';
import type { SealPolicy } from '../protocol/seal.js';
import type { PeerSession } from '../agent/sync/peer-session.js';
import { peerOf } from '../testkit/engines.js';

/** True under `BENCH_QUICK=1`: smaller sizes, fewer runs. */
export const QUICK = process.env.BENCH_QUICK === '1';

/** Extra data a suite hands to the report (plots), keyed by plot name. */
export const plots: Record<string, unknown> = {};
/** Notes a suite wants in BENCHMARKS.md (explanations of misses, method details). */
export const notes: string[] = [];

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Round to `d` decimals. */
export const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/** Latency histogram in microseconds (hdr), reporting milliseconds. */
export class LatencyHistogram {
  private readonly h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
  readonly samples: number[] = [];
  recordMs(ms: number): void {
    this.h.recordValue(Math.max(1, Math.round(ms * 1000)));
    this.samples.push(ms);
  }
  pMs(p: number): number {
    return this.h.getValueAtPercentile(p) / 1000;
  }
  get count(): number {
    return this.h.totalCount;
  }
}

/** A port that was free a moment ago (bind to 0, read, close). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Wait until something accepts TCP connections on `port`. */
export async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

/** A Mosquitto broker started by the harness. */
export interface Broker {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Start `/usr/sbin/mosquitto -p PORT` on a free port. */
export async function startMosquitto(): Promise<Broker> {
  const port = await freePort();
  const bin = process.env.MOSQUITTO ?? '/usr/sbin/mosquitto';
  const child = spawn(bin, ['-p', String(port)], { stdio: 'ignore' });
  await waitForPort(port);
  return {
    port,
    child,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Benchmark engines run the engine's default pacing (600 s subscriptions renewed at 80 %, an
 * anti-entropy poll every 300 s while subscribed, slow-start poll budgets up to 64 KiB, pipelined
 * polls, default backoff and hints). The tests' fast pacing (every client wait capped at 200 ms)
 * made subscribed peers poll ~4.5×/s and distorted every figure it touched. A suite that truly
 * needs other pacing passes it explicitly and says why (only `idle`'s 1 Hz polling baseline does).
 *
 * `n` engines on memory stores trusting each other (`ids` to choose their identities).
 */
export function makeEngines(n: number, extra: Partial<EngineOptions> = {}, ids?: Identity[]): Engine[] {
  const all = ids ?? Array.from({ length: n }, () => generateIdentity());
  const keys = all.map((i) => i.publicKey);
  return all.map((identity) => new Engine({ identity, store: new MemoryStore(), trust: { mode: 'list', keys }, ...extra }));
}

/**
 * A link sink for {@link attachTransport} that hands each link to `e` and keeps the session
 * `attach` returns: the handles a bench drives a requester by, without reaching into the engine.
 */
export function recordingSink(e: Engine): LinkSink & { sessions: PeerSession[] } {
  const sessions: PeerSession[] = [];
  return { peerId: e.peerId, sessions, attach: (link) => void sessions.push(e.attach(link)) };
}

/** Resolve once `e` has an authenticated session to `peerId`. */
export function peerUp(e: Engine, peerId: string, timeoutMs = 10000): Promise<void> {
  if (peerOf(e, peerId) !== undefined) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`peer ${peerId} not up after ${timeoutMs} ms`)), timeoutMs);
    const on = (id: string): void => {
      if (id !== peerId) return;
      clearTimeout(t);
      e.off('peer-up', on);
      resolve();
    };
    e.on('peer-up', on);
  });
}

/** Wait until `cond()` holds (polled every `everyMs`), or throw after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs: number, what: string, everyMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Resolve once `sub` has a granted subscription at `pub` (pushes will flow pub → sub). */
export function subscribed(pub: Engine, sub: Engine, timeoutMs = 15000): Promise<void> {
  return until(() => peerOf(sub, pub.peerId)?.subscribed === true && peerOf(pub, sub.peerId)?.subscriber === true, timeoutMs, 'subscription');
}

/** Resolve when `e` emits `commands` containing at least `n` more handles. */
export function gotCommands(e: Engine, n: number, timeoutMs = 30000): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const t = setTimeout(() => (e.off('commands', on), reject(new Error(`only ${got}/${n} commands after ${timeoutMs} ms`))), timeoutMs);
    const on = (handles: number[], from: string): void => {
      if (from === 'self') return;
      got += handles.length;
      if (got >= n) {
        clearTimeout(t);
        e.off('commands', on);
        resolve(performance.now());
      }
    };
    e.on('commands', on);
  });
}

/** Something to tear down. */
export type Closer = () => Promise<void>;

/** Attach every link an already opened transport yields to `e` (warnings are dropped). */
export function attachAll(t: OpenedTransport, e: Engine): void {
  attachLinks(t, e);
}

const QUIET: TransportOptions = { reconnectBaseMs: 50, reconnectMaxMs: 1000 };

/** `seal=` query parameter for a transport URL; none (the transport's default) when undefined. */
const sealQuery = (seal: SealPolicy | undefined, sep: '?' | '&' = '?'): string => (seal === undefined ? '' : `${sep}seal=${seal}`);

/**
 * Join `server` (listener) and each of `clients` (dialers) over TCP loopback. `seal` sets the
 * sealing policy on both ends (default: the transport's, `require`).
 */
export async function tcpStar(server: Engine, clients: Engine[], seal?: SealPolicy): Promise<Closer> {
  server.setMaxListeners(0);
  // Every client dials from 127.0.0.1 at once: give each a pre-auth slot (the default is 4 per address).
  const l = await attachTransport(`tcp-listen://127.0.0.1:0${sealQuery(seal)}`, server, { ...QUIET, maxConnections: 1024, maxPreAuth: 1024, maxPreAuthPerAddress: 1024 });
  const dialers: AttachedTransport[] = [];
  for (const c of clients) dialers.push(await attachTransport(`tcp://127.0.0.1:${l.localPort}${sealQuery(seal)}`, c, QUIET));
  await Promise.all(clients.map((c) => Promise.all([peerUp(server, c.peerId), peerUp(c, server.peerId)])));
  return async () => {
    await Promise.all(dialers.map((d) => d.close()));
    await l.close();
  };
}

/** Join two engines through an MQTT broker (two dialers, one link each way); `seal` as for {@link tcpStar}. */
export async function mqttPair(a: Engine, b: Engine, port: number, seal?: SealPolicy): Promise<Closer> {
  const ta = await attachTransport(`mqtt://127.0.0.1:${port}/${b.peerId}${sealQuery(seal)}`, a, QUIET);
  const tb = await attachTransport(`mqtt://127.0.0.1:${port}/${a.peerId}${sealQuery(seal)}`, b, QUIET);
  await Promise.all([peerUp(a, b.peerId), peerUp(b, a.peerId)]);
  return async () => {
    await ta.close();
    await tb.close();
  };
}

let simCounter = 0;

/**
 * Join two engines over the serial transport on a simulated UART. Returns the sim link for its
 * counters. `seal` as for {@link tcpStar} (the serial default is `prefer`).
 */
export async function serialPair(a: Engine, b: Engine, baudRate = 115200, seal?: SealPolicy, sinks: { a?: LinkSink; b?: LinkSink } = {}): Promise<{ sim: SimLink; close: Closer }> {
  const registry = new SimRegistry();
  const k = simCounter++;
  const sim = createSimLink({ pathA: `/dev/benchA${k}`, pathB: `/dev/benchB${k}`, registry, baudRate });
  const binding = createSimBinding(registry);
  const ta = await attachTransport(`serial:/dev/benchA${k}?baud=${baudRate}${sealQuery(seal, '&')}`, sinks.a ?? a, { ...QUIET, binding });
  const tb = await attachTransport(`serial:/dev/benchB${k}?baud=${baudRate}${sealQuery(seal, '&')}`, sinks.b ?? b, { ...QUIET, binding });
  await Promise.all([peerUp(a, b.peerId, 20000), peerUp(b, a.peerId, 20000)]);
  return {
    sim,
    close: async () => {
      await ta.close();
      await tb.close();
      sim.dispose();
    },
  };
}

/** Deterministic payload of `n` bytes. */
export function payload(n: number, seed: number): Uint8Array {
  const p = new Uint8Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    p[i] = s & 0xff;
  }
  return p;
}

/** Close engines then their transports, ignoring errors (teardown must not fail a run). */
export async function teardown(engines: Engine[], closers: Closer[]): Promise<void> {
  await Promise.allSettled(engines.map((e) => e.close()));
  await Promise.allSettled(closers.map((c) => c()));
}

/** Resident memory of process `pid` from /proc/PID/status, MB. */
export function vmRssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]) / 1024;
}

/** SIGTERM `child` and resolve once it exited (SIGKILL after 3 s). */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => (clearTimeout(t), r()));
    child.kill('SIGTERM');
  });
}
