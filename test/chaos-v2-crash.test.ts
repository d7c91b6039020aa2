/**
 * The protocol-2 power cut, short (bench/chaos-v2-crash.ts, what `make chaos` runs for 20
 * cycles): a real v2 gateway and agent (the compiled CLI, durability `always`), the agent
 * SIGKILLed mid-commit and restarted on its data dir 3 times, once with a torn tail written
 * into its scope's segment, once also killed again while it starts, the gateway SIGKILLed once and restarted on its port. Asserts that
 * nothing acknowledged is lost, at the agent or the gateway, never a duration.
 */
import t from 'tap';
import { runCrashV2 } from '../bench/chaos-v2-crash.js';
import { sectionCrashV2, violationsCrashV2 } from '../bench/chaos-v2-crash-report.js';

t.test('protocol 2 processes killed mid-commit: every acknowledged id survives and reaches the gateway', async (t) => {
  const f = await runCrashV2({ cycles: 3, seed: 5, tornEvery: 2, log: (m) => t.comment(m) });
  t.ok((f.acknowledged as number) > 0, 'commits were acknowledged');
  t.equal(f.agent_kills, 3, 'the agent was killed every cycle');
  t.equal(f.not_killed, 0, 'it was alive at every kill');
  t.equal(f.early_kills, 1, 'once also while it started (cycle 0)');
  t.equal(f.gateway_kills, 1, 'the gateway was killed once');
  t.equal(f.lost_at_restart, 0, 'every restart held what was acknowledged before the kill');
  t.equal(f.lost_at_agent, 0, 'the agent holds every acknowledged id at the end');
  t.equal(f.missing_at_gateway, 0, 'the gateway holds every acknowledged id after the settle');
  t.equal(f.lost, 0, 'nothing acknowledged was lost');
  t.equal(f.torn_tails_written, 1, 'one torn tail was written');
  t.equal(f.torn_tails_repaired, 1, 'and the restarted agent cut it and said so');
  t.equal(f.clean_exit, true, 'both stop cleanly at the end');
  t.same(violationsCrashV2(f), [], 'no invariant violation');
  t.match(sectionCrashV2(f), /### Protocol v2 power cut/, 'the doc subsection renders');
});
