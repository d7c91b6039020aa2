/**
 * The protocol-v2 chaos soak (bench/chaos-v2-soak.ts), then the power cut of real v2 processes
 * (bench/chaos-v2-crash.ts): `node dist/bench/chaos-v2.js` from the repository root, run by
 * `make chaos` after the v1 scenarios. Env: CHAOS_V2_SECONDS (default 120; CHAOS_QUICK=1: 15),
 * CHAOS_V2_SEED (fault schedule, default 1), CHAOS_V2_CRASH_CYCLES (agent kills, default 20;
 * quick: 6), CHAOS_V2_CRASH_SEED (default CHAOS_V2_SEED), CHAOS_V2_JSON (default bench/chaos-v2.json),
 * CHAOS_V2_DOC (default docs/RELIABILITY.md: its "Protocol v2 soak" section is rewritten).
 * Prints the table; exits 1 when an invariant is violated.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runCrashV2 } from './chaos-v2-crash.js';
import { sectionCrashV2, violationsCrashV2 } from './chaos-v2-crash-report.js';
import { sectionV2, tableV2, violationsV2, withSectionV2 } from './chaos-v2-report.js';
import { runSoakV2 } from './chaos-v2-soak.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const jsonPath = process.env.CHAOS_V2_JSON ?? `${root}bench/chaos-v2.json`;
const docPath = process.env.CHAOS_V2_DOC ?? `${root}docs/RELIABILITY.md`;
const quick = process.env.CHAOS_QUICK === '1';

async function main(): Promise<void> {
  const t0 = Date.now();
  const log = (m: string): void => void process.stderr.write(`[chaos-v2 ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);
  const seconds = Number(process.env.CHAOS_V2_SECONDS ?? (quick ? 15 : 120));
  const seed = Number(process.env.CHAOS_V2_SEED ?? 1);
  log(`soak: ${seconds} s, seed ${seed}`);
  const f = await runSoakV2({ seconds, seed, agents: 3, devices: 4, deviceRing: 8, settleMs: quick ? 60_000 : 120_000, log });
  const cycles = Number(process.env.CHAOS_V2_CRASH_CYCLES ?? (quick ? 6 : 20));
  log(`crash: ${cycles} agent kills`);
  const c = await runCrashV2({ cycles, seed: Number(process.env.CHAOS_V2_CRASH_SEED ?? seed), log });
  const violations = [...violationsV2(f), ...violationsCrashV2(c)];
  const meta = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, quick, total_s: Math.round((Date.now() - t0) / 100) / 10, violations };
  writeFileSync(jsonPath, `${JSON.stringify({ meta, soak: f, crash: c }, null, 2)}\n`);
  const doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Reliability\n';
  writeFileSync(docPath, withSectionV2(doc, sectionV2(f, meta, sectionCrashV2(c))));
  process.stdout.write(`${tableV2(f)}\n${tableV2(c)}`);
  log(`wrote ${jsonPath} and ${docPath}`);
  if (violations.length > 0) {
    process.stderr.write(`chaos-v2: invariant violations:\n  ${violations.join('\n  ')}\n`);
    process.exitCode = 1;
  }
  setTimeout(() => process.exit(), 500).unref();
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos-v2: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
});
