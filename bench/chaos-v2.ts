/**
 * The protocol-v2 chaos run, all of `make chaos`: the soak (bench/chaos-v2-soak.ts), the power
 * cut of real v2 processes (bench/chaos-v2-crash.ts), the fuzzer (bench/chaos-v2-fuzz.ts) and the
 * slot flood (bench/chaos-v2-flood.ts): `node dist/bench/chaos-v2.js [soak|crash|fuzz|flood ...]`
 * (default: all) from the repository root. Scenarios not run keep their figures from the previous
 * JSON. Env: CHAOS_V2_SECONDS (default 120; CHAOS_QUICK=1: 15),
 * CHAOS_V2_SEED (fault schedule, default 1), CHAOS_V2_CRASH_CYCLES (agent kills, default 20;
 * quick: 6), CHAOS_V2_CRASH_SEED (default CHAOS_V2_SEED), CHAOS_V2_JSON (default bench/chaos-v2.json),
 * CHAOS_V2_DOC (default docs/RELIABILITY.md: its "Protocol v2 soak" section is rewritten),
 * CHAOS_QUICK=1 also shortens the fuzzer (~140k inputs instead of 1.4M) and the flood (300 peers).
 * Prints the table; exits 1 when an invariant is violated.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Figures } from './chaos/common.js';
import { runCrashV2, type CrashV2Figures } from './chaos-v2-crash.js';
import { sectionCrashV2, violationsCrashV2 } from './chaos-v2-crash-report.js';
import { sectionV2, tableV2, violationsV2, withSectionV2 } from './chaos-v2-report.js';
import { runFloodV2, violationsFloodV2 } from './chaos-v2-flood.js';
import { runFuzzV2, violationsFuzzV2 } from './chaos-v2-fuzz.js';
import { sectionFuzzFloodV2 } from './chaos-v2-fuzz-report.js';
import { runSoakV2, type SoakV2Figures } from './chaos-v2-soak.js';

// Forced GC for the fuzzer's heap figures.
setFlagsFromString('--expose-gc');
(globalThis as { gc?: unknown }).gc ??= runInNewContext('gc');

const SCENARIOS = ['soak', 'crash', 'fuzz', 'flood'] as const;
type Scenario = (typeof SCENARIOS)[number];

const root = fileURLToPath(new URL('../../', import.meta.url));
const jsonPath = process.env.CHAOS_V2_JSON ?? `${root}bench/chaos-v2.json`;
const docPath = process.env.CHAOS_V2_DOC ?? `${root}docs/RELIABILITY.md`;
const quick = process.env.CHAOS_QUICK === '1';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  for (const a of args) if (!(SCENARIOS as readonly string[]).includes(a)) throw new Error(`unknown scenario ${a}; known: ${SCENARIOS.join(' ')}`);
  const which = new Set<Scenario>(args.length > 0 ? (args as Scenario[]) : SCENARIOS);
  const t0 = Date.now();
  const log = (m: string): void => void process.stderr.write(`[chaos-v2 ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);
  const prev = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, Figures | undefined>) : {};
  const seed = Number(process.env.CHAOS_V2_SEED ?? 1);
  let f = prev.soak as SoakV2Figures | undefined;
  if (which.has('soak')) {
    const seconds = Number(process.env.CHAOS_V2_SECONDS ?? (quick ? 15 : 120));
    log(`soak: ${seconds} s, seed ${seed}`);
    f = await runSoakV2({ seconds, seed, agents: 3, devices: 4, deviceRing: 8, settleMs: quick ? 60_000 : 120_000, log });
  }
  let c = prev.crash as CrashV2Figures | undefined;
  if (which.has('crash')) {
    const cycles = Number(process.env.CHAOS_V2_CRASH_CYCLES ?? (quick ? 6 : 20));
    log(`crash: ${cycles} agent kills`);
    c = await runCrashV2({ cycles, seed: Number(process.env.CHAOS_V2_CRASH_SEED ?? seed), log });
  }
  const cfg = { quick, soakSeconds: 0, log };
  let fuzz = prev.fuzz;
  if (which.has('fuzz')) {
    log('fuzz: start');
    fuzz = { ...(await runFuzzV2(cfg)), quick };
  }
  let flood = prev.flood;
  if (which.has('flood')) {
    log('flood: start');
    flood = await runFloodV2(cfg);
  }
  if (f === undefined || c === undefined) throw new Error(`no soak or crash figures in ${jsonPath}: run those scenarios first`);
  const violations = [
    ...violationsV2(f),
    ...violationsCrashV2(c),
    ...(fuzz === undefined ? ['fuzz: never run'] : violationsFuzzV2(fuzz, fuzz.quick === true)),
    ...(flood === undefined ? ['flood: never run'] : violationsFloodV2(flood)),
  ];
  const meta = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, quick, scenarios: [...which], total_s: Math.round((Date.now() - t0) / 100) / 10, violations };
  writeFileSync(jsonPath, `${JSON.stringify({ meta, soak: f, crash: c, fuzz, flood }, null, 2)}\n`);
  const doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Reliability\n';
  const extra = `${sectionCrashV2(c)}${fuzz === undefined || flood === undefined ? '' : `\n${sectionFuzzFloodV2(fuzz, flood)}`}`;
  writeFileSync(docPath, withSectionV2(doc, sectionV2(f, meta, extra)));
  process.stdout.write(`${tableV2(f)}\n${tableV2(c)}${fuzz === undefined ? '' : `\n${tableV2(fuzz)}`}${flood === undefined ? '' : `\n${tableV2(flood)}`}`);
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
