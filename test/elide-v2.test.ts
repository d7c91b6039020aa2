/**
 * Signature elision, receiver side (PROTOCOL.md §10.7, issue 17): a device with the `elide`
 * setting asks a gateway with `CompactBatch` for covered commands without their signatures and
 * stores them held (signature null); they survive a restart of its store; it relays them only in
 * compact batches, whole with their cover, to a requester that set `elide` itself, and never to a
 * plain requester or one without `elide` (those answers end before the first, `more` false).
 * Hosts are connected as a v2 session does (request, answer, accept); bytes are the encoded polls.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCommandV2, decodeHeldCommandV2, verifyCommandV2 } from '../protocol/command-v2.js';
import { decodeBatch } from '../protocol/compact-batch.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { MAX_FRAME_BYTES } from '../protocol/constants.js';
import { toHex } from '../protocol/keys.js';
import { PollAnswererV2 } from '../agent/sync/poll-answer-v2.js';
import { A, B, C, D, E, G, chainOf, host, idsOf, peer, pull, seed, type Host } from './elide-v2-kit.js';

const N = 2000;
const held = (h: Host): number => {
  let n = 0;
  for (let i = 0; i < h.h.store.size; i++) if (decodeHeldCommandV2(G.id, h.h.store.bytesOf(i)).signature === null) n++;
  return n;
};

t.test('a device with elide: 2,000 commands, most held without a signature, and what it relays', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'elide-v2-'));
  const gw = await host(A);
  await seed(gw.h, chainOf(A, N));
  let dev = await host(B, { elide: true, dataDir: dir });
  const plain = await host(C);
  t.teardown(async () => {
    await Promise.all([gw.reg.close(), dev.reg.close(), plain.reg.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const elided = await pull(dev, B, gw, A, 65536, true);
  const signed = await pull(plain, C, gw, A, 65536, true);
  t.ok(elided.requests.every((r) => r.elide === true), 'every poll of the device to a CompactBatch peer set elide');
  t.ok(signed.requests.every((r) => r.elide === undefined), 'a host without elide never sets it');
  t.same(idsOf(dev.h), idsOf(gw.h), 'the device holds every command, in the gateway order');
  t.same(idsOf(plain.h), idsOf(gw.h));
  const heldN = held(dev);
  t.ok(heldN > 0.8 * N, `${heldN} of ${N + 1} held without a signature`);
  t.equal(held(plain), 0, 'the host without elide holds every signature');
  t.ok(elided.bytes < signed.bytes * 0.75, `elided ${elided.bytes} B (${(elided.bytes / N).toFixed(1)} per command) < 0.75 × signed batches ${signed.bytes} B (${(signed.bytes / N).toFixed(1)})`);
  t.equal(dev.h.ingest.stats.batches.uncovered, 0);
  t.same(dev.h.ingest.stats.rejected, {});
  const h5 = decodeHeldCommandV2(G.id, dev.h.store.bytesOf(5));
  t.equal(h5.signature, null);
  t.notOk(verifyCommandV2(h5, A.publicKey), 'a held command never verifies');
  t.throws(() => decodeCommandV2(G.id, h5.bytes), /compact batch/, 'nor decodes as a wire command');

  await t.test('the held commands survive a restart of the store', async (t) => {
    const before = idsOf(dev.h);
    const bodies = Array.from({ length: dev.h.store.size }, (_, i) => Buffer.from(dev.h.store.bytesOf(i)).toString('hex'));
    await dev.reg.close();
    dev = await host(B, { elide: true, dataDir: dir });
    t.same(idsOf(dev.h), before, 'same ids, same order');
    t.equal(held(dev), heldN, 'null signatures kept');
    t.same(Array.from({ length: dev.h.store.size }, (_, i) => Buffer.from(dev.h.store.bytesOf(i)).toString('hex')), bodies, 'byte for byte');
    const again = await pull(dev, B, gw, A, 65536, true);
    t.equal(dev.h.store.size, N + 1, 'nothing fetched again');
    t.equal(again.answers.length, 1);
  });

  await t.test('a peer with CompactBatch and elide gets all of it from the device, covers verified', async (t) => {
    const relay = await host(D, { elide: true, from: B });
    t.teardown(() => relay.reg.close());
    const got = await pull(relay, D, dev, B, 1536, true);
    t.same(idsOf(relay.h), idsOf(gw.h), 'all of it, at the least frame');
    const st = relay.h.ingest.stats;
    t.same(st.rejected, {}, 'no refusal: every held chain went with its cover');
    t.equal(st.batches.uncovered, 0);
    t.ok(st.batches.verified < st.batches.commands / 4, `${st.batches.verified} covers verified for ${st.batches.commands} commands`);
    for (const res of got.answers) {
      if (encodeMessageV2(res).length > 1536) t.fail('an answer over its budget');
      if (res.batch === undefined || res.batch === null) continue;
      const cmds = decodeBatch(G.id, res.batch!, MAX_FRAME_BYTES);
      if (cmds[cmds.length - 1]!.signature === null) t.fail('a batch ending in a covered command');
    }
    t.ok(held(relay) > 0.8 * N, 'and holds them without signatures too');
  });

  await t.test('a peer without elide, or without CompactBatch, never receives a held command', async (t) => {
    const noElide = await host(E, { from: B });
    t.teardown(() => noElide.reg.close());
    const got = await pull(noElide, E, dev, B, 65536, true);
    for (const res of got.answers) {
      if (res.batch !== undefined && res.batch !== null && decodeBatch(G.id, res.batch, MAX_FRAME_BYTES).some((c) => c.signature === null)) t.fail('a null signature toward a poll without elide');
    }
    t.equal(got.answers[0]!.more, false, 'the answer ends before the first held command, more false');
    t.equal(noElide.h.store.size, 1, 'it holds what came before it (the genesis)');
    t.ok(got.answers.length <= 2, 'and does not loop');
    const answerer = new PollAnswererV2(dev.h.store, (f) => dev.h.membership.idsOf(f));
    const req = { type: 'PollRequest' as const, scope: 0, session: 0, max_bytes: 65536, heads: [G.id], sample: [], window: 0 };
    const plainAnswer = answerer.answer(E.peerId, req, { scope: 0, nextPollMs: 1000 });
    t.same(plainAnswer.response.items, [], 'a plain answer (no CompactBatch) carries none of them');
    t.equal(plainAnswer.response.more, false);
    t.equal(plainAnswer.response.gap, false);
    t.equal(answerer.heldStops, 1, 'counted');
    const fromGenesis = answerer.answer(E.peerId, { ...req, heads: [] }, { scope: 0, nextPollMs: 1000 });
    t.same(fromGenesis.response.items.map((b) => toHex(decodeCommandV2(null, b).id)), [toHex(G.id)], 'only what comes before the first held command goes plain');
    t.equal(answerer.heldStops, 2);
  });
});
