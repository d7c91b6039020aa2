/**
 * The requester's segment (PROTOCOL.md §8.4 field 9, §10.7 C5): a poll with `elide` and
 * `segment` G gets batches whose signatures are at most G bytes of entries apart, so a 64 KiB G
 * brings one signature per answer and author. A host holding such long runs without their
 * signatures relays each only whole, to a requester whose G and budget both admit it; one that
 * cannot take it gets an answer that ends before it with `more` false (no immediate re-poll that
 * could never carry it).
 */
import t from 'tap';
import { decodeBatch } from '../protocol/compact-batch.js';
import { MAX_FRAME_BYTES } from '../protocol/constants.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { A, B, C, D, E, G, chainOf, host, idsOf, pull, seed } from './elide-v2-kit.js';

const N = 500; // ~51 KB of entries: one 64 KiB answer

/** Signatures carried by the batches of `answers`. */
function signaturesIn(answers: Awaited<ReturnType<typeof pull>>['answers']): { signed: number; commands: number } {
  let signed = 0;
  let commands = 0;
  for (const res of answers) {
    if (res.batch === undefined || res.batch === null) continue;
    const cmds = decodeBatch(G.id, res.batch, MAX_FRAME_BYTES);
    commands += cmds.length;
    signed += cmds.filter((c) => c.signature !== null).length;
    if (cmds[cmds.length - 1]!.signature === null) t.fail('a batch ending in a covered command');
  }
  return { signed, commands };
}

t.test('a requester segment of 64 KiB: one signature per answer and author; absent, one per 1,024 bytes', async (t) => {
  const gw = await host(A);
  t.teardown(() => gw.reg.close());
  await seed(gw.h, chainOf(B, N));
  const longRuns = await host(C, { elide: true });
  const shortRuns = await host(D, { elide: true });
  t.teardown(() => Promise.all([longRuns.reg.close(), shortRuns.reg.close()]));
  const long = await pull(longRuns, C, gw, A, 65536, true, 65536);
  const short = await pull(shortRuns, D, gw, A, 65536, true);
  t.same(idsOf(longRuns.h), idsOf(gw.h), 'G = 64 KiB: every command');
  t.same(idsOf(shortRuns.h), idsOf(gw.h), 'G absent: every command');
  const l = signaturesIn(long.answers);
  const s = signaturesIn(short.answers);
  t.equal(l.commands, N + 1);
  t.equal(l.signed, 2, 'the genesis (by A) and the last of B\'s chain');
  t.ok(s.signed >= Math.floor((N * 102) / 1024), `G absent: ${s.signed} signatures, at least one per 1,024 bytes`);
  t.ok(long.bytes < short.bytes - (s.signed - l.signed) * 60, `${long.bytes} B moved with G = 64 KiB, ${short.bytes} B without`);
  t.ok(longRuns.h.ingest.stats.batches.verified <= 2, `${longRuns.h.ingest.stats.batches.verified} signatures verified for ${N + 1} commands`);
  t.same(longRuns.h.ingest.stats.rejected, {}, 'nothing refused');

  await t.test('held long runs go on whole to a requester whose segment and budget admit them', async (t) => {
    const next = await host(E, { elide: true, from: C });
    t.teardown(() => next.reg.close());
    const got = await pull(next, E, longRuns, C, 65536, true, 65536);
    t.same(idsOf(next.h), idsOf(gw.h), 'all of it, relayed by a host that holds it without signatures');
    t.same(next.h.ingest.stats.rejected, {});
    t.equal(next.h.ingest.stats.batches.uncovered, 0, 'every held command went with its cover');
    for (const res of got.answers) if (encodeMessageV2(res).length > 65536) t.fail('an answer over its budget');
  });

  await t.test('a requester with G = 1,024 gets none of the long held runs, and is not asked to poll again at once', async (t) => {
    const small = await host(E, { elide: true, from: C });
    t.teardown(() => small.reg.close());
    const got = await pull(small, E, longRuns, C, 65536, true);
    t.equal(small.h.store.size, 1, 'only the genesis (signed) came');
    t.equal(got.answers[got.answers.length - 1]!.more, false, 'more false');
    t.ok(got.answers.length <= 2, `${got.answers.length} answers: no loop`);
    t.same(small.h.ingest.stats.rejected, {});
  });

  await t.test('regression: G = 64 KiB but a budget smaller than the run ends the answer (more false), never an empty more = true', async (t) => {
    const tight = await host(E, { elide: true, from: C });
    t.teardown(() => tight.reg.close());
    // Before the fix every answer after the genesis was empty with more = true, forever: pull threw "no quiescence".
    const got = await pull(tight, E, longRuns, C, 4096, true, 65536);
    t.equal(tight.h.store.size, 1, 'the held run cannot come at this budget: only the genesis');
    t.ok(got.answers.length <= 2, `${got.answers.length} answers`);
    const last = got.answers[got.answers.length - 1]!;
    t.equal(last.more, false, 'the answer that could carry nothing ends with more false');
    t.ok(longRuns.h.heldSkips > 0, 'and counts the held skip');
  });
});
