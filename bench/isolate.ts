/**
 * One benchmark suite in its own Node process (`node dist/bench/run.js --child NAME OUT`), so no
 * suite measures the heap, sockets, timers or thread-pool backlog another left behind: in one
 * process, `fanout_128` measured after the latency suite gave p99 123 ms against 43 ms alone.
 * The child writes its figures, plots and notes as JSON to `OUT`; the parent kills it at the
 * suite's time limit.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a suite's child process hands back. */
export interface SuiteOutput {
  figures: Record<string, number>;
  plots: Record<string, unknown>;
  notes: string[];
}

/** Run suite `name` in a child process; rejects on a crash, a non-zero exit or the time limit (ms). */
export async function runInChild(name: string, limitMs: number): Promise<SuiteOutput> {
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-bench-'));
  const out = join(dir, 'out.json');
  const script = fileURLToPath(new URL('./run.js', import.meta.url));
  try {
    await new Promise<void>((resolve, reject) => {
      // --expose-gc: suites that read the heap force a GC first when they can.
      const child = spawn(process.execPath, ['--expose-gc', script, '--child', name, out], { stdio: 'inherit' });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`time limit ${limitMs / 1000} s`));
      }, limitMs);
      child.once('error', (err) => (clearTimeout(timer), reject(err)));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`the suite's process exited ${signal ?? code}`));
      });
    });
    return JSON.parse(readFileSync(out, 'utf8')) as SuiteOutput;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The child's side: write what the suite produced to `file`. */
export function writeChildOutput(file: string, o: SuiteOutput): void {
  writeFileSync(file, JSON.stringify(o));
}
