/**
 * Memory per idle hosted scope (docs/design/v2-scopes.md §5.4, issue 16): in a child
 * `node --expose-gc` process, open N disk scope stores (each directory holding a genesis and one
 * data command) and keep them open, then report (heapUsed + arrayBuffers after − before) / N
 * minus the index bytes of the two commands; the same for N memory scope stores. Target for the
 * disk store: ≤ 4,096 B. The memory store also holds the two encodings (≈ 0.4 KB) in memory, so
 * its figure is reported without a target.
 *
 * A child process, because the figure is a difference of heap totals: a fresh heap with nothing
 * else alive. Scope directories are written directly in the v3 format (no fsync), on /dev/shm
 * when there is one: the figure is memory, and 30,000 files on a busy disk took minutes.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CommandV2 } from '../protocol/command-v2.js';
import { headerV3, recordHeadV3 } from '../agent/store/log-format-v3.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { MEMBERS_FILE } from '../agent/store/members-log.js';
import { DiskScopeStore } from '../agent/store/scope-store.js';
import { segmentName } from '../agent/store/segment-log.js';
import { syntheticCommandV2, syntheticGenesis } from '../testkit/synthetic-commands-v2.js';
import { toHex } from '../protocol/keys.js';
import { QUICK, median, notes } from './util.js';

/**
 * Index bytes of one command that §5.4 budgets apart from the 4 KB ("~78 B per command"): the
 * per-command arrays, a parent in the pool and a hash slot. Subtracted twice (genesis, data).
 */
export const INDEX_BYTES_PER_COMMAND = 78;

const CHILD_FLAG = 'scopes-idle-child';
/** One setting for every store, as an agent's config gives them. */
const DURABILITY = { mode: 'none' } as const;

/** The genesis and one data command of scope number `i`. */
function scopeCommands(i: number): [CommandV2, CommandV2] {
  const nonce = new Uint8Array(16);
  new DataView(nonce.buffer).setUint32(0, i);
  const g = syntheticGenesis(`bench/scope-${i}`, nonce);
  const payload = new Uint8Array(120).fill(i & 0xff);
  return [g, syntheticCommandV2(g.id, [g.id], 1, payload)];
}

const record = (body: Uint8Array, timeS: number): Buffer => Buffer.concat([recordHeadV3(body, timeS), body]);

/** Write scope directory `i` under `root` (members.log and the first segment); returns its path and id. */
function writeScope(root: string, i: number): { dir: string; scopeId: Uint8Array } {
  const [g, d] = scopeCommands(i);
  const dir = join(root, toHex(g.id));
  mkdirSync(dir, { mode: 0o700 });
  const t = 1_700_000_000;
  writeFileSync(join(dir, MEMBERS_FILE), Buffer.concat([headerV3(), record(g.bytes, t)]), { mode: 0o600 });
  writeFileSync(join(dir, segmentName(0)), Buffer.concat([headerV3(), record(g.bytes, t), record(d.bytes, t)]), { mode: 0o600 });
  return { dir, scopeId: g.id };
}

const gc = (): void => {
  const f = (globalThis as { gc?: () => void }).gc;
  if (f === undefined) throw new Error('run with --expose-gc');
  f();
  f();
};

const heapBytes = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** A RAM-backed directory when the system has one, else the temp directory. */
function scratchBase(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** The child: open `n` scopes of `kind`, keep them open, print the heap growth per scope. */
async function child(kind: 'disk' | 'memory', n: number): Promise<void> {
  const root = mkdtempSync(join(scratchBase(), 'syncwire-scopes-idle-'));
  try {
    const nowS = (): number => 1_700_000_000;
    const openDisk = (s: { dir: string; scopeId: Uint8Array }): Promise<DiskScopeStore> => DiskScopeStore.open(s.dir, { scopeId: s.scopeId, durability: DURABILITY, nowS });
    const openMemory = (i: number): MemoryScopeStore => {
      const [g, d] = scopeCommands(i);
      const m = new MemoryScopeStore(g.id, { nowS });
      m.append(g, { frontier: 0 });
      m.append(d, { frontier: 0 });
      return m;
    };
    // Warm-up on other scopes (code compiled, pools and caches made), closed before measuring.
    const warm = Array.from({ length: 64 }, (_, i) => n + i);
    if (kind === 'disk') {
      const scopes = Array.from({ length: n }, (_, i) => writeScope(root, i));
      for (const i of warm) await (await openDisk(writeScope(root, i))).close();
      gc();
      const before = heapBytes();
      const open: DiskScopeStore[] = [];
      for (const s of scopes) open.push(await openDisk(s));
      await new Promise((r) => setImmediate(r));
      gc();
      // `scopes` stays alive across both readings: the stores hold their own copies.
      const after = heapBytes();
      scopes.length = 0;
      process.stdout.write(`${JSON.stringify({ perScope: (after - before) / n })}\n`);
      for (const s of open) await s.close();
    } else {
      for (const i of warm) await openMemory(i).close();
      gc();
      const before = heapBytes();
      const open: MemoryScopeStore[] = [];
      for (let i = 0; i < n; i++) open.push(openMemory(i));
      gc();
      const after = heapBytes();
      process.stdout.write(`${JSON.stringify({ perScope: (after - before) / n })}\n`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Bytes per idle scope from one child, minus the index bytes of its two commands. */
function runChild(kind: 'disk' | 'memory', n: number): number {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), CHILD_FLAG, kind, String(n)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return (JSON.parse(out.trim()) as { perScope: number }).perScope - 2 * INDEX_BYTES_PER_COMMAND;
}

/**
 * `scopes.idle_bytes_per_scope` (disk, target ≤ 4,096) and `scopes.idle_bytes_per_scope_memory`:
 * one child each (2–8 s on a busy 2-core machine; repeated runs differ by ~2 %), `SCOPES_IDLE_RUNS`
 * children each for their median. Quick: 5,000 scopes.
 */
export async function benchScopesIdle(): Promise<Record<string, number>> {
  const n = QUICK ? 5_000 : 10_000;
  const runs = Math.max(1, Math.floor(Number(process.env.SCOPES_IDLE_RUNS ?? 1)) || 1);
  const disk: number[] = [];
  const memory: number[] = [];
  for (let r = 0; r < runs; r++) {
    disk.push(runChild('disk', n));
    memory.push(runChild('memory', n));
    await new Promise((res) => setImmediate(res));
  }
  notes.push(`scopes: ${n.toLocaleString('en-US')} idle scopes (genesis + one data command), bytes per scope minus ${2 * INDEX_BYTES_PER_COMMAND} B of per-command index; the memory store's figure includes the two encodings.`);
  return {
    'scopes.idle_bytes_per_scope': Math.round(median(disk)),
    'scopes.idle_bytes_per_scope_memory': Math.round(median(memory)),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === CHILD_FLAG) {
  const kind = process.argv[3] === 'memory' ? 'memory' : 'disk';
  await child(kind, Number(process.argv[4] ?? 10_000));
}
