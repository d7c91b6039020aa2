/**
 * Store measurements (run compiled: `node --expose-gc dist/testkit/store-bench.js [commands] [dir]`):
 * index memory per command at 1M synthetic commands, lookup rate, append throughput under each
 * durability setting, and reopen (scan) rate. Prints a table and one JSON line for the bench
 * harness to pick up. Numbers depend on the disk: run it on the board's SD card for board figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from '../protocol/command.js';
import { CommandIndex } from '../agent/store/command-index.js';
import type { CommandStore, Durability } from '../agent/store/command-store.js';
import { DiskStore } from '../agent/store/disk-store.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { mulberry32 } from './prng.js';
import { randomDag } from './synthetic-commands.js';

const N = Number(process.argv[2] ?? 1_000_000);
/** Where the logs go: pass a directory on the disk you care about (default: the OS temp dir). */
const BASE = process.argv[3] ?? tmpdir();
const results: Record<string, number> = {};
const report = (key: string, value: number, unit: string) => {
  results[key] = Math.round(value * 10) / 10;
  console.log(`${key.padEnd(34)} ${results[key]!.toLocaleString('en').padStart(14)} ${unit}`);
};
const heapNow = () => {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

function indexMemory(): void {
  const rand = mulberry32(1);
  const ix = new CommandIndex();
  const id = new Uint8Array(32);
  const author = new Uint8Array(8);
  const before = heapNow();
  let peak = 0;
  for (let i = 0; i < N; i++) {
    crypto.getRandomValues(id);
    author[0] = i % 16;
    // Mostly one parent, sometimes a merge of two, as a device's log looks.
    const parents = i === 0 ? [] : rand() < 0.1 && i > 1 ? [i - 1, Math.floor(rand() * (i - 1))] : [i - 1];
    ix.add(id, parents, 180, i * 188, author, i);
    if (i >= 10_000) peak = Math.max(peak, ix.byteSize() / (i + 1));
  }
  report(`index bytes/command at ${N}`, ix.byteSize() / N, 'B');
  report('index bytes/command, worst size', peak, 'B (just after a grow, n ≥ 10k)');
  report('heap+arrayBuffers growth/command', (heapNow() - before) / N, 'B (run with --expose-gc)');
  const probe = Array.from({ length: 100_000 }, (_, k) => ix.idOf(Math.floor(rand() * N)).slice());
  const t0 = performance.now();
  for (const p of probe) if (ix.indexOf(p) < 0) throw new Error('lookup failed');
  report('indexOf', probe.length / ((performance.now() - t0) / 1000), 'lookups/s');
}

async function appendRate(name: string, make: () => Promise<CommandStore>, cmds: Command[], committers: number): Promise<void> {
  const s = await make();
  let next = 0;
  const t0 = performance.now();
  if (committers === 0) for (const c of cmds) s.append(c); // a bulk load, as applying a poll answer
  const committer = async (): Promise<void> => {
    while (next < cmds.length) {
      s.append(cmds[next++]!);
      await s.sync();
    }
  };
  await Promise.all(Array.from({ length: committers }, committer));
  await s.sync();
  const secs = (performance.now() - t0) / 1000;
  const fsyncs = s instanceof DiskStore ? s.stats().fsyncs : 0;
  await s.close();
  report(name, cmds.length / secs, `commits/s${fsyncs ? ` (${fsyncs} fsyncs)` : ''}`);
}

async function stores(): Promise<void> {
  const root = mkdtempSync(join(BASE, 'syncwire-bench-'));
  let k = 0;
  const disk = (d: Durability) => () => DiskStore.open(join(root, `s${k++}`), { durability: d });
  const cmds = randomDag(100_000, 2);
  const mem = () => Promise.resolve(new MemoryStore());
  await appendRate('append memory (1 committer)', mem, cmds, 1);
  await appendRate('append none (bulk, one sync)', disk({ mode: 'none' }), cmds, 0);
  await appendRate('append always (bulk, one sync)', disk({ mode: 'always' }), cmds, 0);
  await appendRate('append none (1 committer)', disk({ mode: 'none' }), cmds, 1);
  await appendRate('append batch:10 (1 committer)', disk({ mode: 'batch', ms: 10 }), cmds, 1);
  await appendRate('append always (1 committer)', disk({ mode: 'always' }), cmds.slice(0, 2000), 1);
  await appendRate('append always (16 committers)', disk({ mode: 'always' }), cmds.slice(0, 20_000), 16);
  await appendRate('append always (128 committers)', disk({ mode: 'always' }), cmds.slice(0, 50_000), 128);
  const t0 = performance.now();
  const s = await DiskStore.open(join(root, 's2'), { durability: { mode: 'none' } });
  report('reopen (scan + index)', s.size / ((performance.now() - t0) / 1000), 'commands/s');
  await s.close();
  rmSync(root, { recursive: true, force: true });
}

indexMemory();
await stores();
console.log(JSON.stringify({ bench: 'store', commands: N, ...results }));
