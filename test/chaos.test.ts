/**
 * The flood and fuzz scenarios of `make chaos` on protocol 2 (bench/chaos-v2-flood.ts,
 * bench/chaos-v2-fuzz.ts), in a short variant, asserting the same invariants as the full run:
 * exactly `capacity` subscription slots held, every refused peer told when to retry and pacing
 * itself, no untrusted peer admitted; the fuzzer never crashes or throws untyped, every
 * undecodable frame is counted, the good peer keeps syncing, and the sealed link survives every
 * injection. The soak and the power cut have their own tests (chaos-v2, chaos-v2-crash).
 */
import t from 'tap';
import { runFloodV2, violationsFloodV2 } from '../bench/chaos-v2-flood.js';
import { runFuzzV2, violationsFuzzV2 } from '../bench/chaos-v2-fuzz.js';

const cfg = { quick: true, soakSeconds: 0, log: (m: string) => void t.comment(m) };

t.test('slot flood (v2): exactly capacity slots held, refusals paced, no untrusted peer admitted', async (t) => {
  const r = await runFloodV2(cfg, 0.5);
  t.equal(r.held, r.capacity, 'exactly capacity slots held');
  t.ok((r.acked as number) >= (r.capacity as number), 'every slot was granted');
  t.equal(r.refused_with_hint, (r.peers as number) - (r.acked as number), 'every peer never granted a slot was refused with a hint');
  t.equal(r.pace_violations, 0, 'refused peers respect the pace');
  t.equal(r.unauthenticated_admitted, 0, 'no unauthenticated peer admitted');
  t.equal(r.unauthenticated_told_unauthorized, r.unauthenticated, 'untrusted peers told Unauthorized');
  t.same(violationsFloodV2(r), [], 'no invariant violation');
});

t.test('fuzz (v2): no crash or untyped error; every bad frame counted; the good peer syncs; the sealed link survives', async (t) => {
  const r = await runFuzzV2(cfg, 0.05);
  t.ok((r.inputs as number) >= 50_000, `at least 50k inputs (${r.inputs})`);
  t.equal(r.crashes, 0, 'no crash');
  // Stalls over 1 s (`hangs`) are wall time, which other test files share here: the full
  // `make chaos` run asserts them (0 in docs/RELIABILITY.md), this one only reports them.
  t.comment(`hangs (wall-clock stalls over 1 s, not asserted here): ${String(r.hangs)}`);
  t.equal(r.untyped_errors, 0, 'every rejection is a typed error');
  // Counted bad when decoded, or dropped unread when its link closed first (a hostile Hello closes
  // the link while its frames still wait in the session's intake). Bad frames also count scoped
  // requests under numbers that do not route, so only this direction is exact.
  const sent = Number(r.live_undecodable_sent);
  t.ok(sent > 0 && sent <= Number(r.live_bad_frames_counted) + Number(r.live_intake_dropped), `every undecodable frame was counted (${sent} <= ${r.live_bad_frames_counted} bad + ${r.live_intake_dropped} dropped at close)`);
  // The chaos report of 2 Dec found the target's scope ingest 30 s deep under pushed batches (a
  // per-link push bound let hostile links queue one each), so the good peer never converged.
  t.equal(r.live_target_ingest_idle, true, 'the target\'s scope ingest drained');
  t.equal(r.good_peer_converged, true, 'the good peer kept syncing');
  t.equal(r.batch_forgeries_authenticated, 0, 'no mutated batch authenticated a forgery');
  t.equal(r.live_target_held_commands, 0, 'the target (no elide) stores no command without its signature');
  t.ok((r.live_relayed_stored as number) > 0, 'relayed batches were stored');
  t.equal(r.sealed_forgeries_opened, 0, 'no forged sealed frame opened');
  t.equal(r.live_sealed_link_survived, true, 'the live sealed link stayed up under injection');
  t.equal(r.live_unsealed_dropped_on_sealed, r.live_unsealed_injected_on_sealed, 'every unsealed injection on the sealed link was dropped and counted');
  t.equal(r.live_sealed_bad_frames, 0, 'sealed injections were never taken for bad frames');
  t.equal(r.live_target_bad_signatures, 0, 'the target (a gateway: every signature checked) stores no signature that fails');
  t.same(violationsFuzzV2(r, true).filter((v) => !v.startsWith('fuzz-v2.inputs ')), [], 'no other invariant violation');
});
