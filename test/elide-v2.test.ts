/**
 * Signature elision, receiver side (PROTOCOL.md §10.7, issue 17): a device with the `elide`
 * setting asks a gateway with `CompactBatch` for covered commands without their signatures and
 * stores them held (signature null); they survive a restart of its store; it relays them only in
 * compact batches, whole with their cover, to a requester that set `elide` itself, and never to a
 * plain requester or one without `elide` (those answers leave them out, with what descends from
 * them, and carry the rest: §10.3 step 3a).
 * Hosts are connected as a v2 session does (request, answer, accept); bytes are the encoded polls.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCommandV2, decodeHeldCommandV2, encodeCommandV2, verifyCommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
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
    t.equal(got.answers[0]!.more, false, 'the answer leaves out the held commands (all of the chain descends from the first), more false');
    t.equal(noElide.h.store.size, 1, 'it holds what came before it (the genesis)');
    t.ok(got.answers.length <= 2, 'and does not loop');
    const answerer = new PollAnswererV2(dev.h.store, (f) => dev.h.membership.idsOf(f));
    const req = { type: 'PollRequest' as const, scope: 0, session: 0, max_bytes: 65536, heads: [G.id], sample: [], window: 0 };
    const plainAnswer = answerer.answer(E.peerId, req, { scope: 0, nextPollMs: 1000 });
    t.same(plainAnswer.response.items, [], 'a plain answer (no CompactBatch) carries none of them');
    t.equal(plainAnswer.response.more, false);
    t.equal(plainAnswer.response.gap, false);
    t.equal(answerer.heldSkips, 1, 'counted');
    const fromGenesis = answerer.answer(E.peerId, { ...req, heads: [] }, { scope: 0, nextPollMs: 1000 });
    t.same(fromGenesis.response.items.map((b) => toHex(decodeCommandV2(null, b).id)), [toHex(G.id)], 'only what does not descend from a held command goes plain');
    t.equal(answerer.heldSkips, 2);
  });
});

t.test('§10.3 step 3a: a requester without elide gets what does not descend from a held command, in one round (the concurrent case)', async (t) => {
  const gw = await host(A);
  const ours = chainOf(A, 50);
  await seed(gw.h, ours);
  const dev = await host(B, { elide: true });
  const other = await host(E, { from: B });
  t.teardown(() => Promise.all([gw.reg.close(), dev.reg.close(), other.reg.close()]));
  await pull(dev, B, gw, A, 65536, true);
  t.ok(held(dev) > 40, 'the device holds the gateway chain without most signatures');
  const own = chainOf(B, 20); // concurrent with the gateway chain: on the genesis
  await seed(dev.h, own);
  const merge = encodeCommandV2(G.id, { parents: [ours[49]!.id, own[19]!.id].sort((x, y) => Buffer.compare(x, y)), author: B.author, seq: 21, kind: CommandKind.Data, payload: new Uint8Array(8) }, (m) => B.sign(m));
  await seed(dev.h, [merge]);
  for (const compact of [false, true]) {
    const answerer = new PollAnswererV2(dev.h.store, (f) => dev.h.membership.idsOf(f));
    const res = answerer.answer(E.peerId, { type: 'PollRequest', scope: 0, session: 0, max_bytes: 65536, heads: [G.id], sample: [], window: 0 }, { scope: 0, nextPollMs: 1000, compact }).response;
    const got = compact ? decodeBatch(G.id, res.batch!, MAX_FRAME_BYTES).map((c) => toHex(c.id)) : res.items.map((b) => toHex(decodeCommandV2(G.id, b).id));
    t.same(got, own.map((c) => toHex(c.id)), `${compact ? 'batch' : 'plain'}: the device's own chain, neither the held commands nor the merge on them`);
    t.equal(res.more, false);
    t.equal(answerer.heldSkips, 1, 'counted once');
  }
  // E gets the gateway chain from the gateway; then the merge, whose held parent E now names, comes from the device.
  await pull(other, E, dev, B, 65536, false);
  t.same(idsOf(other.h), [toHex(G.id), ...own.map((c) => toHex(c.id))]);
  await pull(other, E, gw, A, 65536, false);
  await pull(other, E, dev, B, 65536, false);
  t.same(new Set(idsOf(other.h)), new Set(idsOf(dev.h)), 'E converged with the device');
  t.equal(decodeCommandV2(G.id, other.h.store.bytesOf(other.h.store.indexOf(merge.id))).signature !== null, true, 'with signatures');
});
