/**
 * The invariants of the protocol-v2 soak, its table, and its section of docs/RELIABILITY.md
 * (between markers: the chaos run rewrites only its own section, the rest of the file is prose).
 */
import type { SoakV2Figures } from './chaos-v2-soak.js';

const START = '<!-- protocol-v2-soak:start (written by bench/chaos-v2.ts) -->';
const END = '<!-- protocol-v2-soak:end -->';

/** The invariants broken by `f`, one line each (empty: all hold). */
export function violationsV2(f: SoakV2Figures): string[] {
  const out: string[] = [];
  const want = (key: string, ok: (v: unknown) => boolean, what: string): void => {
    if (!ok(f[key])) out.push(`chaos-v2.${key} = ${JSON.stringify(f[key])}, want ${what}`);
  };
  want('lost', (v) => v === 0, '0');
  want('converged', (v) => v === true, 'true');
  want('foreign_commands', (v) => v === 0, '0');
  want('crashes', (v) => v === 0, '0');
  want('unexpected_commit_errors', (v) => v === 0, '0');
  want('hostile_writes_accepted', (v) => v === 0, '0');
  want('hostile_held_victim_scope', (v) => v === false, 'false');
  want('hostile_offered_victim_scope', (v) => v === 0, '0');
  want('acknowledged', (v) => typeof v === 'number' && v > 0, '> 0');
  // Compact batches and elided signatures (issue 17); figures of a run before them have no audit.
  if (f.signatures_checked !== undefined) {
    for (const k of ['bad_signatures_stored', 'held_commands_elsewhere', 'unverifiable_authors_stored', 'undecodable_stored']) want(k, (v) => v === 0, '0');
    want('signatures_checked', (v) => typeof v === 'number' && v > 0, '> 0');
  }
  return out;
}

/** A key/value table of the figures. */
export function tableV2(f: Readonly<Record<string, unknown>>): string {
  const rows = Object.entries(f).map(([k, v]) => `| \`${k}\` | ${typeof v === 'object' ? `\`${JSON.stringify(v)}\`` : String(v)} |`);
  return `| key | value |\n|---|---|\n${rows.join('\n')}\n`;
}

/** One sentence of the headline figures. */
function summary(f: SoakV2Figures): string {
  const v = (k: string): string => String(f[k] ?? '?');
  const damaged = Number(f.garbage_frames ?? 0) + Number(f.truncated_frames ?? 0);
  return `Measured: ${v('acknowledged')} acknowledged commits (agents ${v('agent_commits')}, devices ${v('device_commits')}, gateway ${v('gateway_commits')}), `
    + `${v('lost')} lost, converged ${v('converged')} ${v('settle_ms')} ms after the faults stopped, ${v('foreign_commands')} foreign commands, ${v('crashes')} crashes; `
    + `under ${v('agent_restarts')} engine restarts, ${v('tcp_cuts')} TCP resets, ${v('device_link_cuts')} device link cuts and ${damaged} damaged frames; `
    + `${v('batches_received')} compact batches taken in (${v('batches_covered_skips')} signatures skipped under covers), the elide agent holds ${v('elide_agent_held_commands')} commands without a signature, ${v('bad_signatures_stored')} bad signatures stored; `
    + `the devices saw ${v('device_gaps')} gaps and adopted ${v('device_horizons_adopted')} horizons; the hostile peer's ${v('hostile_write_attempts')} writes: ${v('hostile_writes_accepted')} accepted.`;
}

/** The section, markers included; `extra` (e.g. the power-cut scenario's subsection) goes last. */
export function sectionV2(f: SoakV2Figures, meta: { date: string; node: string; cpus: number; violations: string[] }, extra = ''): string {
  return `${START}
## Protocol v2 soak

\`node dist/bench/chaos-v2.js\` (\`make chaos\`; \`CHAOS_V2_SECONDS\` sets its length,
\`CHAOS_V2_SEED\` its fault schedule; \`test/chaos-v2.test.ts\` runs a short one). One process: a
gateway \`EngineV2\` on a disk store (device scopes on, \`fleet/acme\` open-read with the agents as
writers), ${String(f.agents)} agents (\`EngineV2\` on disk stores in their own data dirs, over TCP through a
proxy that resets every connection every 1.5–5 s; the dialers re-dial), ${String(f.devices)} v2 simulated
devices (rings of ${String(f.device_ring)} commands per scope, so gaps and horizons happen; telemetry every
500 ms; their in-process links cut every 2–8 s for 0.3–2 s, one cut in three for 3–6 s; the
gateway writes orders to every device scope and, every 3–7 s, a burst of twice a ring of fleet
configs); a damaged frame (random bytes, or a real frame cut short) injected every 150–600 ms
on a random link of any kind, both ways on device links; an agent's engine closed and reopened
on its data dir every 3–9 s. The last ${String(f.elide_agents ?? 0)} agent(s) run with the engine setting \`elide\`
(PROTOCOL.md §10.7): covered commands of compact batches stored without their signature.
At the end every command every engine stores is read back: a host without \`elide\` holds none
without its signature, every stored signature verifies under its author's key
(\`bad_signatures_stored\`); how many commands an \`elide\` agent holds without a signature is reported (\`elide_agent_held_commands\`: only chains that reach it elided in a poll answer, where pushes carry most of the soak's traffic), not required.
There is no close-without-flush in the v2 stores: a "power cut" drops the transport and closes
the engine, and a commit counts as acknowledged only once \`commit()\` resolved (durability
\`always\`: fsynced). A hostile peer, trusted on the link, asks to join agent 1's device scope
and tries to write it and the fleet scope every 0.5–1.5 s; the gateway's plaintext frames toward
it (the \`frame-out\` tap) are checked for a \`Scopes\` entry of that scope.

After the faults stop, the gateway commits a marker to every scope; **converged** = every agent
holds exactly the gateway's commands of its device scope and the fleet scope, the hostile peer
exactly the gateway's fleet scope, and every device holds the markers of its two scopes;
**lost** = an acknowledged commit missing at the gateway, or missing from the replica of the
agent whose scope it is in; a device keeps only its ring, so for devices lost counts what the
gateway lacks of their commits and converged asks that each hold both markers (committed once
the gateway held every device commit);
**foreign_commands** = a command of a scope the receiver is not a member
of, seen by a device, an agent or the hostile peer.

Last run: ${meta.date}, Node ${meta.node}, ${String(meta.cpus)} cores, ${String(f.seconds)} s, seed ${String(f.seed)}. Violations: ${meta.violations.length === 0 ? 'none' : meta.violations.join('; ')}.
${summary(f)}

${tableV2(f)}${extra === '' ? '' : `\n${extra}`}${END}
`;
}

/** The v2 section of `doc` (markers included), or null. */
export function sectionV2In(doc: string): string | null {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  return a >= 0 && b > a ? `${doc.slice(a, b + END.length)}\n` : null;
}

/** `doc` with the section replaced, or appended when it has none. */
export function withSectionV2(doc: string, section: string): string {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a >= 0 && b > a) return `${doc.slice(0, a)}${section.trimEnd()}${doc.slice(b + END.length)}`;
  return `${doc.trimEnd()}\n\n${section}`;
}
