/**
 * The flood and fuzz scenarios of `make chaos` on protocol 2 (bench/chaos-v2-flood.ts,
 * bench/chaos-v2-fuzz.ts), in a short variant, asserting the same invariants as the full run:
 * exactly `capacity` subscription slots held, every refused peer told when to retry and pacing
 * itself, no untrusted peer admitted; the fuzzer never crashes, hangs or throws untyped, every
 * undecodable frame is counted, the good peer keeps syncing, and the sealed link survives every
 * injection. The soak and the power cut have their own tests (chaos-v2, chaos-v2-crash).
 */
import t from 'tap';
import { runFloodV2, violationsFloodV2 } from '../bench/chaos-v2-flood.js';

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
