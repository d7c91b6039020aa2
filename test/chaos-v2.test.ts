/**
 * A short protocol-v2 chaos soak (bench/chaos-v2-soak.ts, what `make chaos` runs for 120 s): a few
 * seconds of cut links, damaged frames, agent engines closed and reopened on their data dirs,
 * small device rings and a hostile peer, on a fixed fault seed. Asserts the soak's invariants,
 * never a duration: nothing acknowledged lost, every scope converged, no foreign command, no crash.
 */
import t from 'tap';
import { violationsV2, withSectionV2, sectionV2 } from '../bench/chaos-v2-report.js';
import { runSoakV2 } from '../bench/chaos-v2-soak.js';

t.test('protocol v2 soak, short: 0 lost, converged, 0 foreign, no crash', async (t) => {
  const f = await runSoakV2({ seconds: 8, seed: 7, agents: 2, devices: 3, deviceRing: 8, settleMs: 60_000, log: (m) => t.comment(m) });
  t.comment(JSON.stringify(f));
  t.ok((f.acknowledged as number) > 0, 'commits were acknowledged');
  t.ok((f.agent_commits as number) > 0 && (f.device_commits as number) > 0 && (f.gateway_commits as number) > 0, 'agents, devices and the gateway all committed');
  t.equal(f.lost, 0, `nothing acknowledged was lost (${JSON.stringify(f.lost_by)})`);
  t.equal(f.converged, true, 'every scope converged');
  t.equal(f.foreign_commands, 0, 'no foreign command reached anyone');
  t.equal(f.hostile_writes_accepted, 0, 'no hostile write reached the gateway');
  t.equal(f.hostile_held_victim_scope, false, 'the hostile peer never held the victim\'s scope');
  t.equal(f.hostile_offered_victim_scope, 0, 'the gateway never offered it the victim\'s scope');
  t.ok((f.hostile_write_attempts as number) > 0, 'the hostile peer tried');
  t.equal(f.crashes, 0, 'no crash');
  t.equal(f.unexpected_commit_errors, 0, 'commits failed only as a closing or joining engine may');
  t.ok((f.garbage_frames as number) + (f.truncated_frames as number) > 0, 'damaged frames were injected');
  t.ok((f.tcp_cuts as number) > 0, 'agent links were cut');
  t.equal(f.elide_agents, 1, 'one agent ran with elide');
  t.ok((f.batches_received as number) > 0, `compact batches were taken in (${String(f.batches_received)})`);
  t.comment(`the elide agent holds ${String(f.elide_agent_held_commands)} commands without signatures (reported, not required: pushes carry most of the soak's traffic)`);
  t.equal(f.held_commands_elsewhere, 0, 'no host without elide holds a command without its signature');
  t.ok((f.gateway_signatures_checked as number) > 0, 'the gateway\'s stored commands were verified');
  t.equal(f.bad_signatures_stored, 0, 'every stored signature verifies');
  t.equal(f.unverifiable_authors_stored, 0, 'every stored command has a known author');
  t.same(violationsV2(f), [], 'no invariant violation');
});

t.test('the batch and signature invariants', async (t) => {
  const good = { lost: 0, converged: true, foreign_commands: 0, crashes: 0, unexpected_commit_errors: 0, hostile_writes_accepted: 0, hostile_held_victim_scope: false, hostile_offered_victim_scope: 0, acknowledged: 5 };
  const audited = { ...good, elide_agents: 1, elide_agent_held_commands: 3, signatures_checked: 10, bad_signatures_stored: 0, held_commands_elsewhere: 0, unverifiable_authors_stored: 0, undecodable_stored: 0 };
  t.same(violationsV2(good), [], 'figures of a run before the audit: no new invariant');
  t.same(violationsV2(audited), [], 'all hold');
  t.match(violationsV2({ ...audited, bad_signatures_stored: 1 }), [/bad_signatures_stored = 1, want 0/]);
  t.match(violationsV2({ ...audited, held_commands_elsewhere: 2 }), [/held_commands_elsewhere = 2/]);
  t.same(violationsV2({ ...audited, elide_agent_held_commands: 0 }), [], 'an elide agent holding none is reported, not a violation');
});

t.test('the doc section is replaced in place, or appended once', async (t) => {
  const meta = { date: 'd', node: 'n', cpus: 2, violations: [] };
  const one = withSectionV2('# Reliability\n\ntext\n', sectionV2({ lost: 0, agents: 1 }, meta));
  const two = withSectionV2(`${one}\n## After\n`, sectionV2({ lost: 1, agents: 1 }, meta));
  t.equal(two.split('## Protocol v2 soak').length, 2, 'one section');
  t.match(two, /`lost` \| 1/, 'the new figures');
  t.notMatch(two, /`lost` \| 0/, 'not the old ones');
  t.match(two, /## After/, 'what followed is kept');
});
