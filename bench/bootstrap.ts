/**
 * Cold bootstrap of 100k signed commands (quick: 10k) over TCP loopback versus the machine's
 * ed25519 verify ceiling, both measured in the same run.
 *
 * - The responder runs in a child process (`node dist/bench/bootstrap-responder.js`, compiled JS,
 *   engine defaults) holding the commands in a MemoryStore, so answering polls does not compete
 *   with the requester's main thread as it would in one process; in deployment the two are
 *   different machines. The requester (engine defaults: slow-start budgets up to 64 KiB,
 *   pipelined polls) runs here; time from dialing until it applied every command.
 * - Ceiling: async `crypto.verify` on libuv's pool exactly as the engine's ingest calls it
 *   (`verifySignatureAsync(key, signedBytesOf(bytes), signature)`), on the same commands, with a
 *   sliding window of two poll answers' worth of verifies outstanding (the engine holds at most
 *   two answers), so the pool is never starved by the harness.
 * Commands are signed once and cached in the OS temp dir between runs (bench/bootstrap-cache.ts).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MemoryStore } from '../agent/store/memory-store.js';
import { Engine } from '../agent/sync/engine.js';
import { openTransport } from '../agent/transport/registry.js';
import { signedBytesOf, type Command } from '../protocol/command.js';
import { generateIdentity, toHex, verifySignatureAsync, type Identity } from '../protocol/keys.js';
import { loadOrSign } from './bootstrap-cache.js';
import { repoRoot } from '../scripts/repo-root.js';
import { QUICK, attachAll, gotCommands, median, notes, peerUp, round, teardown } from './util.js';

/** Verifies/s keeping `window` verifies outstanding at all times. */
async function verifyCeiling(id: Identity, cmds: Command[], window: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  let bad = 0;
  const worker = async (): Promise<void> => {
    while (next < cmds.length) {
      const c = cmds[next++]!;
      if (!(await verifySignatureAsync(id.publicKey, signedBytesOf(c.bytes), c.signature))) bad++;
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  if (bad > 0) throw new Error('verify failed');
  return cmds.length / ((performance.now() - t0) / 1000);
}

/** Start the responder child holding the first `count` of the `n` cached commands; resolves with its port. */
/** CPU seconds (user + system, all threads) a process has used, from /proc/PID/stat. */
function cpuSecondsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

async function startResponder(n: number, count: number, requesterKey: Uint8Array): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const script = join(repoRoot(), 'dist', 'bench', 'bootstrap-responder.js');
  const child = spawn(process.execPath, [script, String(n), String(count), toHex(requesterKey)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      const m = /^PORT (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`responder exited ${code}`)));
  });
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => (clearTimeout(t), r()));
        child.stdin!.end();
      }),
  };
}

interface BootRun {
  rate: number;
  secs: number;
  /** CPU seconds the responder child used during the bootstrap. */
  responderCpu: number;
  /** CPU seconds this (requester) process used, main thread and libuv pool together. */
  requesterCpu: number;
}

async function bootstrapOnce(id: Identity, n: number, count: number): Promise<BootRun> {
  const me = generateIdentity();
  const responder = await startResponder(n, count, me.publicKey);
  const client = new Engine({ identity: me, store: new MemoryStore(), trust: { mode: 'list', keys: [id.publicKey] } });
  const done = gotCommands(client, count, 300000);
  const c0 = cpuSecondsOf(responder.pid);
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  const d = await openTransport(`tcp://127.0.0.1:${responder.port}`, { reconnectBaseMs: 50, reconnectMaxMs: 1000 });
  attachAll(d, client);
  try {
    await peerUp(client, id.peerId);
    const t1 = await done;
    const u = process.cpuUsage(u0);
    const secs = (t1 - t0) / 1000;
    return { rate: count / secs, secs, responderCpu: cpuSecondsOf(responder.pid) - c0, requesterCpu: (u.user + u.system) / 1e6 };
  } finally {
    await teardown([client], [() => d.close(), responder.stop]);
  }
}

export async function benchBootstrap(): Promise<Record<string, number>> {
  const n = QUICK ? 10_000 : 100_000;
  const runs = QUICK ? 2 : 3;
  const t0 = performance.now();
  const { id, cmds } = loadOrSign(n);
  const prepS = (performance.now() - t0) / 1000;
  const perAnswer = Math.max(1, Math.floor(65536 / cmds[1]!.bytes.length));
  const window = 2 * perAnswer;
  await verifyCeiling(id, cmds.slice(0, 2000), window); // warm-up
  await bootstrapOnce(id, n, 2000);
  const rates: number[] = [];
  const ceilings: number[] = [];
  const ratios: number[] = [];
  const runsInfo: BootRun[] = [];
  // Interleave so both see the same machine conditions; the ratio is taken per pair.
  for (let r = 0; r < runs; r++) {
    const c = await verifyCeiling(id, cmds, window);
    const b = await bootstrapOnce(id, n, n);
    ceilings.push(c);
    rates.push(b.rate);
    ratios.push(b.rate / c);
    runsInfo.push(b);
  }
  const cores = availableParallelism();
  notes.push(
    `Bootstrap: per run (ceiling/s, bootstrap/s, elapsed s, requester CPU s, responder CPU s) ` +
      runsInfo.map((b, i) => `(${Math.round(ceilings[i]!)}, ${Math.round(b.rate)}, ${b.secs.toFixed(1)}, ${b.requesterCpu.toFixed(1)}, ${b.responderCpu.toFixed(1)})`).join(', ') +
      `; ${cores} cores = ${cores} CPU s per elapsed s. The responder runs in a child process; its CPU time is taken from the same cores the requester's verify threads need.`,
  );
  return {
    'bootstrap_100k.commands': n,
    'bootstrap_100k.commands_per_s': Math.round(median(rates)),
    'bootstrap_100k.verify_ceiling_per_s': Math.round(median(ceilings)),
    'bootstrap_100k.ratio': round(median(ratios), 3),
    'bootstrap_100k.verify_in_flight': window,
    'bootstrap_100k.requester_cpu_s_per_s': round(median(runsInfo.map((b) => b.requesterCpu / b.secs)), 2),
    'bootstrap_100k.responder_cpu_s_per_s': round(median(runsInfo.map((b) => b.responderCpu / b.secs)), 2),
    'bootstrap_100k.prepare_s': round(prepS, 1),
  };
}
