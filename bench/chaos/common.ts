/** Shared bits of the chaos scenarios: result shapes, timing, RSS. Seeded PRNGs: testkit/prng.ts. */
import { readFileSync } from 'node:fs';
import { sleep, waitFor } from '../../testkit/wait.js';

export { sleep };

/** Figures one scenario contributes to `bench/chaos.json` (flat keys under its section). */
export type Figures = Record<string, number | boolean | string | null | number[] | Record<string, number>>;

/** How a scenario is run: quick (the `make test` variant) or full. */
export interface ChaosConfig {
  quick: boolean;
  /** Soak length in seconds. */
  soakSeconds: number;
  /** Log a progress line. */
  log: (msg: string) => void;
}

/** Resident set size of a process in MB, read from /proc (works where memoryUsage().rss reads 0). */
export function rssMb(pid: number | 'self' = 'self'): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    /* fall through */
  }
  return process.memoryUsage().rss / 1048576;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Forced GC if available (the orchestrator enables it via v8 flags). */
export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
}

/** Wait until `pred` holds or `ms` pass, checking every `stepMs`; returns whether it held. */
export function until(pred: () => boolean, ms: number, stepMs = 50): Promise<boolean> {
  return waitFor(pred, ms, stepMs);
}
