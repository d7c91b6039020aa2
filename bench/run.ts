/**
 * Benchmark runner (`make bench`; `BENCH_QUICK=1` for the short variant): runs the selected
 * suites (`node dist/bench/run.js [suite...]`, default all), each bounded in time, merges their
 * flat figures, prints a table with target and pass/miss columns, writes `bench/results.json`
 * and regenerates `docs/BENCHMARKS.md` and `docs/bench/*.svg` (bench/report.ts). When only some
 * suites run, figures of the others are kept from the previous results.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchApiRss } from './api-rss.js';
import { benchAutomerge } from './automerge.js';
import { benchBootstrap } from './bootstrap.js';
import { benchFanout } from './fanout.js';
import { benchFleet } from './fleet.js';
import { benchIdle } from './idle.js';
import { benchIndexMemory } from './index-memory.js';
import { benchLatency } from './latency.js';
import { benchMesh } from './mesh.js';
import { benchMqttThroughput } from './mqtt-throughput.js';
import { benchProtocol } from './protocol.js';
import { benchRss } from './rss.js';
import { benchSeal } from './seal.js';
import { benchSerial } from './serial.js';
import { benchSerialLossy } from './serial-lossy.js';
import { benchScopesIdle } from './scopes-idle.js';
import { runInChild, writeChildOutput } from './isolate.js';
import { writeReport } from './report.js';
import { repoRoot } from '../scripts/repo-root.js';
import { QUICK, notes, plots } from './util.js';

/** One benchmark: a name and a function returning its figures. */
export interface Benchmark {
  name: string;
  run: () => Promise<Record<string, number>>;
  /** Give up after this many seconds (full mode; quick mode gets a third). */
  limitS: number;
}

/** Every benchmark `make bench` runs, in order. */
export const benchmarks: Benchmark[] = [
  { name: 'protocol', run: benchProtocol, limitS: 60 },
  { name: 'index', run: benchIndexMemory, limitS: 60 },
  { name: 'latency', run: benchLatency, limitS: 120 },
  { name: 'fanout', run: benchFanout, limitS: 90 },
  { name: 'mesh', run: benchMesh, limitS: 90 },
  { name: 'idle', run: benchIdle, limitS: 150 },
  { name: 'mqtt', run: benchMqttThroughput, limitS: 240 }, // v2: each run signs and ingests its backlog (a new scope id)
  { name: 'rss', run: benchRss, limitS: 60 },
  { name: 'automerge', run: benchAutomerge, limitS: 60 },
  { name: 'bootstrap', run: benchBootstrap, limitS: 360 }, // v2: a poll round trip per answer, no pipelining yet
  { name: 'serial', run: benchSerial, limitS: 150 },
  { name: 'serial-lossy', run: benchSerialLossy, limitS: 90 },
  { name: 'seal', run: benchSeal, limitS: 150 },
  { name: 'api', run: benchApiRss, limitS: 240 },
  { name: 'scopes', run: benchScopesIdle, limitS: 60 },
  { name: 'fleet', run: benchFleet, limitS: 120 },
];

/**
 * Figures no suite measures any more, dropped from a previous results.json on a partial run:
 * `mqtt.link_ms_ingest_stubbed` had a v1 subscriber refuse every command at its author check;
 * v2 ends check authors against the same scope membership (bench/mqtt-throughput.ts); the mesh's
 * duplicates by delivery came from a v1 per-batch event v2 does not have (bench/mesh.ts).
 */
export const RETIRED: readonly string[] = ['mqtt.link_ms_ingest_stubbed', 'mesh3.duplicates_push', 'mesh3.duplicates_poll'];

/** Target of a figure: `>=` or `<=` a value. */
export const TARGETS: Record<string, [op: '>=' | '<=', value: number]> = {
  'serial.line_utilization': ['>=', 0.95],
  'serial.link_efficiency': ['>=', 0.97],
  'serial.frame_overhead_bytes': ['<=', 6],
  'serial.payload_efficiency': ['>=', 0.8],
  'push_latency_ms.tcp.p99': ['<=', 2],
  'push_latency_ms.mqtt_mosquitto.p99': ['<=', 5],
  'fanout_128.p99_ms': ['<=', 25],
  'idle.poll_1hz_vs_push_bytes_ratio': ['>=', 50],
  'mesh3.redundant_ratio': ['<=', 0.01],
  // Issue 17: three times the all-core verify ceiling (verification no longer the bound); was 0.9.
  'bootstrap_100k.ratio': ['>=', 3],
  'mqtt.vs_raw_ratio': ['>=', 0.8],
  'rss_mb.idle_serial': ['<=', 55],
  'rss_mb.idle_mqtt': ['<=', 68],
  'index.bytes_per_command': ['<=', 100],
  'seal.bytes_per_frame_added': ['<=', 24],
  'seal.push_p99_ratio.tcp': ['<=', 1.1],
  'seal.push_p99_ratio.mosquitto': ['<=', 1.1],
  'api.rss_idle_delta_mb': ['<=', 3],
  'scopes.idle_bytes_per_scope': ['<=', 4096],
  'fleet.rx_bytes_ratio_200_vs_20': ['<=', 1.1],
  'fleet.foreign_commands_received': ['<=', 0],
  // Issue 17, the peer comparison (syncwire / the other; cold 2,000 commands and 500 + 500 concurrent).
  'automerge.bytes_ratio': ['<=', 1],
  'automerge.time_ratio': ['<=', 1],
  'automerge.concurrent.bytes_ratio': ['<=', 1],
  'automerge.concurrent.time_ratio': ['<=', 1],
  'yjs.bytes_ratio': ['<=', 1],
  'yjs.time_ratio': ['<=', 2],
  'yjs.concurrent.bytes_ratio': ['<=', 1],
  'yjs.concurrent.time_ratio': ['<=', 2],
  'automerge.cold.syncwire_round_trips_tcp': ['<=', 2],
};

/** 'met', 'MISS' or '' (no target). */
export function verdict(key: string, v: number): string {
  const t = TARGETS[key];
  if (t === undefined) return '';
  return (t[0] === '>=' ? v >= t[1] : v <= t[1]) ? 'met' : 'MISS';
}

/**
 * How far a missed figure is from its target, e.g. `by 1.146 (2.15× the limit)` or
 * `by 0.35 (0.46 of the target)`; '' when the target is met or there is none.
 */
export function missBy(key: string, v: number): string {
  const t = TARGETS[key];
  if (t === undefined || verdict(key, v) !== 'MISS') return '';
  const [op, target] = t;
  const by = Math.round(Math.abs(v - target) * 1000) / 1000;
  if (target === 0) return `by ${by.toLocaleString('en-US')}`;
  const factor = (v / target).toFixed(2);
  return op === '<=' ? `by ${by.toLocaleString('en-US')} (${factor}× the limit)` : `by ${by.toLocaleString('en-US')} (${factor} of the target)`;
}

/**
 * Run `list` in order, each suite in its own process (bench/isolate.ts) bounded by its limit,
 * and merge their figures; the suites' plots and notes join this process's.
 */
export async function runAll(list: Benchmark[], errors: Record<string, string> = {}): Promise<Record<string, number>> {
  const merged: Record<string, number> = {};
  for (const b of list) {
    const t0 = performance.now();
    const limit = (QUICK ? b.limitS / 3 : b.limitS) * 1000;
    try {
      const r = await runInChild(b.name, limit);
      Object.assign(merged, r.figures);
      Object.assign(plots, r.plots);
      notes.push(...r.notes);
    } catch (err) {
      errors[b.name] = (err as Error).message;
      console.error(`${b.name}: FAILED: ${(err as Error).message}`);
    }
    const secs = (performance.now() - t0) / 1000;
    merged[`runtime_s.${b.name}`] = Math.round(secs * 10) / 10;
    console.error(`${b.name}: ${secs.toFixed(1)} s`);
  }
  return merged;
}

/** The child's side of {@link runInChild}: run suite `name` here and write its output to `file`. */
async function child(name: string, file: string): Promise<void> {
  const b = benchmarks.find((x) => x.name === name);
  if (b === undefined) throw new Error(`no benchmark named ${name}`);
  const figures = await b.run();
  writeChildOutput(file, { figures, plots, notes });
  // Lingering sockets or timers of a suite must not keep its process alive.
  setTimeout(() => process.exit(0), 200).unref();
}

/** Figures as an aligned table with target and verdict columns. */
export function formatTable(results: Record<string, number>): string {
  const keys = Object.keys(results);
  const w = Math.max(6, ...keys.map((k) => k.length));
  const lines = [`${'figure'.padEnd(w)}  ${'value'.padStart(14)}  ${'target'.padEnd(8)}  result`, `${'-'.repeat(w)}  ${'-'.repeat(14)}  --------  ------`];
  for (const k of keys) {
    const t = TARGETS[k];
    lines.push(`${k.padEnd(w)}  ${results[k]!.toLocaleString('en-US').padStart(14)}  ${(t ? `${t[0]} ${t[1]}` : '').padEnd(8)}  ${verdict(k, results[k]!)} ${missBy(k, results[k]!)}`.trimEnd());
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3]!, process.argv[4]!);
  const only = process.argv.slice(2);
  const list = only.length === 0 ? benchmarks : benchmarks.filter((b) => only.includes(b.name));
  if (list.length === 0) throw new Error(`no benchmark named ${only.join(', ')}; have ${benchmarks.map((b) => b.name).join(', ')}`);
  const loadStart = loadavg().map((x) => Math.round(x * 100) / 100);
  const t0 = performance.now();
  const errors: Record<string, string> = {};
  const fresh = await runAll(list, errors);
  const total = (performance.now() - t0) / 1000;
  const out = join(repoRoot(), 'bench', 'results.json');
  let results = fresh;
  if (only.length > 0 && existsSync(out)) {
    try {
      results = { ...(JSON.parse(readFileSync(out, 'utf8')).results as Record<string, number>), ...fresh };
      for (const k of RETIRED) delete results[k];
    } catch {
      /* a broken previous file is simply replaced */
    }
  }
  console.log(formatTable(results));
  mkdirSync(dirname(out), { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    quick: QUICK,
    suites: list.map((b) => b.name),
    total_runtime_s: Math.round(total),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    load_start: loadStart,
    load_end: loadavg().map((x) => Math.round(x * 100) / 100),
    errors,
  };
  writeFileSync(out, `${JSON.stringify({ meta, results }, null, 2)}\n`);
  writeReport(repoRoot(), meta, results, plots, notes);
  console.log(`wrote bench/results.json and docs/BENCHMARKS.md (${total.toFixed(0)} s)`);
  // Lingering sockets or timers of a failed suite must not keep `make bench` alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
