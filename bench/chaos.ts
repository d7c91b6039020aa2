/**
 * Chaos harness: `node dist/bench/chaos.js [crash|corruption|soak|fuzz|flood ...]` (default: all).
 * Env: CHAOS_SECONDS = soak length (default 600: the published run's soak must last ≥ 600 s),
 * CHAOS_QUICK=1 = the short variant `make test` runs. Writes `bench/chaos.json` (sections of
 * scenarios not run are kept from the previous file) and regenerates `docs/RELIABILITY.md`.
 * Exits 1 when an invariant is violated.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ChaosConfig, Figures } from './chaos/common.js';
import { reliabilityDoc, violations } from './chaos/report.js';
import { sectionV2In, withSectionV2 } from './chaos-v2-report.js';

// Forced GC for the memory figures (fuzz heap before/after).
setFlagsFromString('--expose-gc');
(globalThis as { gc?: unknown }).gc ??= runInNewContext('gc');

const SCENARIOS = ['crash', 'corruption', 'soak', 'fuzz', 'flood'] as const;
type Scenario = (typeof SCENARIOS)[number];

const root = fileURLToPath(new URL('../../', import.meta.url));
const jsonPath = process.env.CHAOS_JSON ?? `${root}bench/chaos.json`;
const docPath = process.env.CHAOS_DOC ?? `${root}docs/RELIABILITY.md`;

async function runOne(name: Scenario, cfg: ChaosConfig): Promise<Figures> {
  switch (name) {
    case 'crash':
      return (await import('./chaos/crash.js')).runCrash(cfg);
    case 'corruption':
      return (await import('./chaos/corruption.js')).runCorruption(cfg);
    case 'soak':
      return (await import('./chaos/soak.js')).runSoak(cfg);
    case 'fuzz':
      return (await import('./chaos/fuzz.js')).runFuzz(cfg);
    case 'flood':
      return (await import('./chaos/flood.js')).runFlood(cfg);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  for (const a of args) if (!(SCENARIOS as readonly string[]).includes(a)) throw new Error(`unknown scenario ${a}; known: ${SCENARIOS.join(' ')}`);
  const which = (args.length > 0 ? args : SCENARIOS) as Scenario[];
  const quick = process.env.CHAOS_QUICK === '1';
  const soakSeconds = Number(process.env.CHAOS_SECONDS ?? (quick ? 10 : 600));
  const t0 = Date.now();
  const cfg: ChaosConfig = { quick, soakSeconds, log: (m) => process.stderr.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`) };
  const prev = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>) : {};
  const out: Record<string, unknown> = { ...prev };
  const meta = { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length, quick, scenarios: which };
  for (const name of which) {
    const s0 = Date.now();
    cfg.log(`${name}: start`);
    out[name] = { ...(await runOne(name, cfg)), runtime_s: Math.round((Date.now() - s0) / 100) / 10 };
    cfg.log(`${name}: done in ${((Date.now() - s0) / 1000).toFixed(1)} s`);
  }
  out.meta = { ...meta, total_s: Math.round((Date.now() - t0) / 100) / 10 };
  const bad = violations(out);
  (out.meta as Record<string, unknown>).violations = bad;
  writeFileSync(jsonPath, `${JSON.stringify(out, null, 2)}\n`);
  // The protocol-v2 soak's section is written by bench/chaos-v2.ts; a v1 run keeps it.
  const v2 = existsSync(docPath) ? sectionV2In(readFileSync(docPath, 'utf8')) : null;
  writeFileSync(docPath, v2 === null ? reliabilityDoc(out) : withSectionV2(reliabilityDoc(out), v2));
  cfg.log(`wrote ${jsonPath} and ${docPath}`);
  if (bad.length > 0) {
    process.stderr.write(`chaos: invariant violations:\n  ${bad.join('\n  ')}\n`);
    process.exitCode = 1;
  }
  // Some scenario may leave an unref'd handle or a broker child behind: do not hang here.
  setTimeout(() => process.exit(), 500).unref();
}

main().catch((err) => {
  process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
});
