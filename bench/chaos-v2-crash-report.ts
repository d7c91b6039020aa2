/**
 * The invariants and the docs/RELIABILITY.md subsection of the protocol-2 power-cut scenario
 * (bench/chaos-v2-crash.ts); bench/chaos-v2.ts puts the subsection inside the v2 soak's section.
 */
import type { CrashV2Figures } from './chaos-v2-crash.js';
import { tableV2 } from './chaos-v2-report.js';

/** The invariants broken by `f`, one line each (empty: all hold). */
export function violationsCrashV2(f: CrashV2Figures): string[] {
  const out: string[] = [];
  const want = (key: string, ok: (v: unknown) => boolean, what: string): void => {
    if (!ok(f[key])) out.push(`chaos-v2-crash.${key} = ${JSON.stringify(f[key])}, want ${what}`);
  };
  want('lost', (v) => v === 0, '0');
  want('converged', (v) => v === true, 'true');
  want('not_killed', (v) => v === 0, '0');
  want('acknowledged', (v) => typeof v === 'number' && v > 0, '> 0');
  want('torn_tails_repaired', (v) => v === f.torn_tails_written, `${String(f.torn_tails_written)} (torn_tails_written)`);
  want('clean_exit', (v) => v === true, 'true');
  return out;
}

/** The subsection (a `###` heading, its text and table). */
export function sectionCrashV2(f: CrashV2Figures): string {
  const v = (k: string): string => String(f[k] ?? '?');
  return `### Protocol v2 power cut (SIGKILL)

\`bench/chaos-v2-crash.ts\` (run by \`node dist/bench/chaos-v2.js\` after the soak; \`CHAOS_V2_CRASH_CYCLES\`,
\`CHAOS_V2_CRASH_SEED\`; \`test/chaos-v2-crash.test.ts\` runs 3 cycles). Real processes: \`syncwire gateway
--protocol 2\` (tcp-listen, device scopes kept without bound) and \`syncwire agent --protocol 2\` dialing
it, both with durability \`always\` on data dirs on disk. Four committers post to the agent's API
(its device scope) as fast as it answers; a commit counts as acknowledged once the POST answered.
The agent is SIGKILLed 0.2–1.5 s into each cycle (seeded) and restarted on the same data dir, which
must then hold every id acknowledged so far; the gateway is SIGKILLed once mid-run and restarted on
the same port. SIGKILL keeps the page cache, so every third kill also appends a torn record (a head
promising 200 bytes, 57 of them) to the scope's last segment, which the restart must cut and log;
the first kill and every fourth after it that wrote none, the restarted agent is killed again 0–0.8 s after its spawn (while
it opens its stores or dials), then started once more.
**lost** = acknowledged ids missing at the agent after a restart or at the end, or at the gateway
after the settle; **converge_ms** = from the last restart with the committers stopped until the
gateway held every acknowledged id.

Measured: ${v('cycles')} agent kills (${v('early_kills')} more while starting) and ${v('gateway_kills')} gateway kill, ${v('acknowledged')} acknowledged, ${v('lost')} lost, `
    + `${v('torn_tails_repaired')} of ${v('torn_tails_written')} torn tails repaired, converged in ${v('converge_ms')} ms.

${tableV2(f)}`;
}
