/**
 * The short chaos run (CHAOS_QUICK=1: 10 kills, 66 damaged logs, 10-second soak, ~120k fuzz inputs, 300-peer
 * flood) on compiled code, asserting the same invariants as `make chaos`. Output goes to a temp
 * dir so bench/chaos.json and docs/RELIABILITY.md keep the figures of the last full run.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const harness = fileURLToPath(new URL('../dist/bench/chaos.js', import.meta.url));

t.test('chaos harness, quick variant: every invariant holds', async (t) => {
  if (!existsSync(harness)) return t.fail(`${harness} is missing: run \`make build\` (or \`make test\`) first`);
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-chaos-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'chaos.json');
  const run = spawnSync(process.execPath, [harness], {
    env: { ...process.env, CHAOS_QUICK: '1', CHAOS_SECONDS: '10', CHAOS_JSON: json, CHAOS_DOC: join(dir, 'RELIABILITY.md') },
    encoding: 'utf8',
    timeout: 250_000,
  });
  t.comment(run.stderr.split('\n').filter((l) => /done in|violation|CRASH|NOT/.test(l)).join('\n'));
  t.equal(run.status, 0, `harness exit status (stderr tail: ${run.stderr.slice(-800)})`);
  const r = JSON.parse(readFileSync(json, 'utf8')) as Record<string, Record<string, unknown>>;
  t.same(r.meta!.violations, [], 'no invariant violations');
  t.ok((r.crash!.kills as number) >= 10, 'crash: at least 10 kills');
  t.ok((r.crash!.acknowledged as number) > 0, 'crash: commits were acknowledged');
  t.equal(r.crash!.lost, 0, 'crash: nothing acknowledged was lost');
  t.equal(r.crash!.reopen_failures, 0, 'crash: the store always opened');
  t.equal(r.crash!.torn_tails_reported, r.crash!.torn_tails_truncated, 'crash: every truncation was reported');
  t.ok((r.corruption!.trials as number) >= 60, 'corruption: at least 60 damaged logs');
  t.equal(r.corruption!.lost_outside_damage, 0, 'corruption: no acknowledged command outside the damaged bytes lost');
  t.equal(r.corruption!.agent_other_exits, 0, 'corruption: every real agent started or exited 78');
  t.equal(r.soak!.converged, true, 'soak: every engine holds the identical graph');
  t.equal(r.soak!.lost, 0, 'soak: nothing committed was lost');
  t.equal(r.soak!.crashes, 0, 'soak: no crash');
  t.ok((r.soak!.commands as number) > 0, 'soak: writers committed');
  t.ok((r.fuzz!.inputs as number) >= 100_000, 'fuzz: at least 100k inputs');
  t.equal(r.fuzz!.crashes, 0, 'fuzz: no crash');
  t.equal(r.fuzz!.hangs, 0, 'fuzz: no hang');
  t.equal(r.fuzz!.untyped_errors, 0, 'fuzz: every rejection is a typed error');
  // Counted as bad when decoded, or as dropped unread when its link closed first (a hostile Hello
  // closes the link while its frames still wait in the session's intake): none goes uncounted.
  const bad = Number(r.fuzz!.live_bad_frames_counted);
  const sent = Number(r.fuzz!.live_undecodable_sent);
  const dropped = Number(r.fuzz!.live_intake_dropped);
  t.ok(bad <= sent, `fuzz: no frame counted bad that decoded (${bad} <= ${sent})`);
  t.ok(sent <= bad + dropped, `fuzz: every undecodable frame was counted (${sent} <= ${bad} bad + ${dropped} dropped at close)`);
  t.equal(r.fuzz!.good_peer_converged, true, 'fuzz: the good peer kept syncing');
  t.equal(r.fuzz!.sealed_forgeries_opened, 0, 'fuzz: no forged sealed frame opened');
  t.equal(r.fuzz!.live_sealed_link_survived, true, 'fuzz: the live sealed link stayed up under injection');
  t.equal(r.fuzz!.live_unsealed_dropped_on_sealed, r.fuzz!.live_unsealed_injected_on_sealed, 'fuzz: every unsealed injection on the sealed link was dropped and counted');
  t.equal(r.fuzz!.live_sealed_bad_frames, 0, 'fuzz: sealed injections were never taken for bad frames');
  t.equal(r.flood!.held, r.flood!.capacity, 'flood: exactly capacity slots held');
  t.ok((r.flood!.acked as number) >= (r.flood!.capacity as number), 'flood: every slot was granted');
  t.equal(r.flood!.refused_with_hint, (r.flood!.peers as number) - (r.flood!.acked as number), 'flood: every peer never granted a slot was refused with a hint');
  t.equal(r.flood!.pace_violations, 0, 'flood: refused peers respect the pace');
  t.equal(r.flood!.unauthenticated_admitted, 0, 'flood: no unauthenticated peer admitted');
  t.equal(r.flood!.unauthenticated_told_unauthorized, r.flood!.unauthenticated, 'flood: untrusted peers told Unauthorized');
});
