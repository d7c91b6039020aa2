/**
 * Shared benchmark helpers: statistics (median, hdr histogram), free ports, a real Mosquitto
 * started on a free port, waits and child-process memory. The v2 engine setups joined by real
 * transports are in bench/v2-setup.ts. Everything runs the compiled code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import * as hdr from 'hdr-histogram-js';

/** True under `BENCH_QUICK=1`: smaller sizes, fewer runs. */
export const QUICK = process.env.BENCH_QUICK === '1';

/**
 * Pushes of the unmeasured run that warms a latency suite's process before anything is timed:
 * the first few thousand pushes of a process run while V8 still compiles the hot paths on the
 * same two cores (TCP p99 3.1 → 1.4 ms from the first to the fourth run of 1,000 in one process),
 * and an agent lives far longer. Quick: 300.
 */
export const PROCESS_WARM_UP = QUICK ? 300 : 3000;

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

/** Wait until `cond()` holds (polled every `everyMs`), or throw after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs: number, what: string, everyMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Something to tear down. */
export type Closer = () => Promise<void>;

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
