/**
 * The rules around commands held without a signature (PROTOCOL.md §10.7): the held form of a
 * command (decoded only from store bodies, never verifies, told apart from a signature ending in
 * 0xf6), C4's 60 s without `elide` after a bad cover, the attacks on a host with `elide` (a run
 * whose cover never arrives, a forged command inside an elided run, null signatures toward a host
 * without `elide`) and the push step that never carries a held command.
 */
import t from 'tap';
import { decodeCommandV2, decodeHeldCommandV2, encodeCommandV2, heldCommandV2, isHeldCommandV2, unsignedOf, verifyCommandV2, type SignedCommandV2 } from '../protocol/command-v2.js';
import { decodeBatch, encodeBatch } from '../protocol/compact-batch.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import type { PollResponse } from '../protocol/messages-v2.js';
import { pushStepV2 } from '../agent/sync/push-frames-v2.js';
import { ELIDE_COOLDOWN_S } from '../agent/sync/scope-host.js';
import { A, B, C, G, chainOf, host, idsOf, peer, pull, seed } from './elide-v2-kit.js';

const answer = (batch: Uint8Array): PollResponse => ({ type: 'PollResponse', scope: 0, session: 0, more: false, gap: false, total: 0, next_poll_ms: 1000, heads: [], items: [], batch });
const heldOf = (c: SignedCommandV2): ReturnType<typeof heldCommandV2> => heldCommandV2(c, unsignedOf(c.bytes), c.id);

t.test('the held form: same id, f6 last, store decoder only, never verifies', async (t) => {
  const [c] = chainOf(A, 1) as [SignedCommandV2];
  const h = heldOf(c);
  t.equal(h.bytes.length, c.bytes.length - 65, 'the 66-byte signature becomes one null');
  t.equal(h.bytes[h.bytes.length - 1], 0xf6);
  const back = decodeHeldCommandV2(G.id, h.bytes);
  t.same(back.id, c.id, 'the id never covers the signature');
  t.equal(back.signature, null);
  t.same(decodeHeldCommandV2(G.id, c.bytes).signature, c.signature, 'a signed body decodes as before');
  t.throws(() => decodeCommandV2(G.id, h.bytes), /compact batch/, 'the wire decoder refuses it (Malformed)');
  t.notOk(verifyCommandV2(back, A.publicKey));
  t.ok(isHeldCommandV2(h.bytes));
  t.notOk(isHeldCommandV2(c.bytes));
  // A signature whose last byte is 0xf6 is not a null signature.
  const f6 = encodeCommandV2(G.id, { parents: [G.id], author: A.author, seq: 9, kind: CommandKind.Data, payload: new Uint8Array(3) }, () => new Uint8Array(64).fill(0xf6));
  t.notOk(isHeldCommandV2(f6.bytes), 'a signature ending in f6 is a signature');
  const big = encodeCommandV2(G.id, { parents: [G.id, c.id].sort(Buffer.compare), author: A.author, seq: 300, kind: CommandKind.Data, payload: new Uint8Array(300) }, (m) => A.sign(m));
  t.ok(isHeldCommandV2(heldOf(big).bytes), 'two parents, a two-byte seq, a long payload');
});

t.test('C4: after a bad cover in an answer to an elide poll, no elide toward that peer for 60 s', async (t) => {
  let now = 1_000_000;
  const dev = await host(B, { elide: true, nowS: () => now });
  t.teardown(() => dev.reg.close());
  await dev.h.ingest.receive([G.bytes], A.peerId, 'poll');
  t.equal(dev.h.request(A.peerId, { maxBytes: 65536, compact: true }).elide, true, 'elide toward a CompactBatch peer');
  t.equal(dev.h.request(A.peerId, { maxBytes: 65536 }).elide, undefined, 'never toward a peer without CompactBatch');
  t.equal(dev.h.request(A.peerId, { maxBytes: 65536, compact: true }).elide, true);
  const cmds = chainOf(A, 5);
  const bad = { ...cmds[4]!, signature: cmds[4]!.signature.map((x, i) => (i === 0 ? x ^ 1 : x)) };
  const r = await dev.h.accept(peer(A), answer(encodeBatch([...cmds.slice(0, 4).map((command) => ({ command, elide: true })), { command: bad, elide: false }])));
  t.equal(r.rejected.BadSignature, 1, 'the cover is refused');
  t.equal(r.uncovered, 4, 'what it would have covered is dropped');
  t.equal(dev.h.store.size, 1, 'nothing stored');
  t.equal(dev.h.request(A.peerId, { maxBytes: 65536, compact: true }).elide, undefined, 'no elide toward that peer');
  t.equal(dev.h.request(C.peerId, { maxBytes: 65536, compact: true }).elide, true, 'toward another peer still');
  now += ELIDE_COOLDOWN_S - 1;
  t.equal(dev.h.request(A.peerId, { maxBytes: 65536, compact: true }).elide, undefined, 'not after 59 s');
  now += 1;
  t.equal(dev.h.request(A.peerId, { maxBytes: 65536, compact: true }).elide, true, 'again after 60 s');
  // A bad cover in an answer to a poll without elide starts no cooldown (there was nothing to stop).
  dev.h.request(A.peerId, { maxBytes: 65536 });
  await dev.h.accept(peer(A), answer(encodeBatch([{ command: bad, elide: false }])));
  t.equal(dev.h.request(A.peerId, { maxBytes: 65536, compact: true }).elide, true);
});

t.test('attacks on a host with elide: nothing unauthenticated is stored', async (t) => {
  const dev = await host(B, { elide: true });
  const off = await host(C);
  t.teardown(() => Promise.all([dev.reg.close(), off.reg.close()]));
  for (const h of [dev, off]) await h.h.ingest.receive([G.bytes], A.peerId, 'poll');
  const cmds = chainOf(A, 6);
  // A run whose cover never arrives (the answer was cut, or it was left out).
  const cut = await dev.h.accept(peer(A), answer(encodeBatch(cmds.slice(0, 5).map((command) => ({ command, elide: true })))));
  t.equal(cut.uncovered, 5, 'Uncovered');
  t.equal(dev.h.store.size, 1, 'nothing stored');
  // A forged command inside an elided run: the cover's id changes, its signature fails.
  const forged = encodeCommandV2(G.id, { parents: [cmds[1]!.id], author: A.author, seq: 3, kind: CommandKind.Data, payload: new Uint8Array(100).fill(0xee) }, () => new Uint8Array(64));
  const replaced = [cmds[0]!, cmds[1]!, forged];
  for (let i = 3; i < 6; i++) {
    const orig = cmds[i]!;
    replaced.push(encodeCommandV2(G.id, { parents: [replaced[i - 1]!.id], author: A.author, seq: orig.seq, kind: CommandKind.Data, payload: orig.payload }, () => orig.signature));
  }
  const f = await dev.h.accept(peer(A), answer(encodeBatch(replaced.map((command, i) => ({ command, elide: i < 5 })))));
  t.equal(f.rejected.BadSignature, 1);
  t.equal(dev.h.store.size, 1, 'nothing forged, nothing it would have covered');
  // Null signatures toward a host without elide: the batch is refused whole.
  const m = await off.h.accept(peer(A), answer(encodeBatch(cmds.map((command, i) => ({ command, elide: i < 5 })))));
  t.equal(m.rejected.Malformed, 1);
  t.equal(off.h.store.size, 1);
  // The honest run is taken, held.
  const ok = await dev.h.accept(peer(A), answer(encodeBatch(cmds.map((command, i) => ({ command, elide: i < 5 })))));
  t.equal(ok.appended.length, 6);
  t.same(idsOf(dev.h).slice(1), cmds.map((c) => Buffer.from(c.id).toString('hex')));
  t.equal(decodeHeldCommandV2(G.id, dev.h.store.bytesOf(1)).signature, null);
  t.notOk(decodeHeldCommandV2(G.id, dev.h.store.bytesOf(6)).signature === null, 'the cover keeps its signature');
});

t.test('a held command without its parent is dropped, never buffered as an orphan (C3)', async (t) => {
  const dev = await host(B, { elide: true });
  t.teardown(() => dev.reg.close());
  await seed(dev.h, [G]);
  const cmds = chainOf(A, 4);
  const r = await dev.h.accept(peer(A), answer(encodeBatch(cmds.slice(1).map((command, i) => ({ command, elide: i < 2 })))));
  t.equal(r.orphaned, 1, 'the signed cover waits for its parent');
  t.equal(r.uncovered, 2, 'the held ones are dropped');
  t.equal(dev.h.ingest.orphans.has(Buffer.from(G.id).toString('hex'), heldOf(cmds[1]!)), false);
});

t.test('a push step never carries a held command', async (t) => {
  const cmds = chainOf(A, 4);
  const bodies = [cmds[0]!.bytes, cmds[1]!.bytes, heldOf(cmds[2]!).bytes, cmds[3]!.bytes];
  const src = { idOf: () => new Uint8Array(32), lengthOf: (h: number) => bodies[h]!.length, bytesOf: (h: number) => bodies[h]!.slice() };
  const o = { scope: 1, budget: 65536, frameLimit: 65536, bare: true, passBytes: 65536 };
  const s = pushStepV2(src, [0, 1, 2, 3], 0, o);
  t.equal(s.end, 2, 'the step ends before it');
  t.equal(s.held, true);
  t.equal(s.exhausted, false, 'the budget did not stop it');
  t.equal(s.frames.length, 1);
  const again = pushStepV2(src, [0, 1, 2, 3], 2, o);
  t.same([again.frames.length, again.end, again.held], [0, 2, true], 'nothing from a held command on');
  const bare = pushStepV2(src, [2], 0, o);
  t.same([bare.frames.length, bare.held], [0, true], 'not as a bare push either');
  t.equal(pushStepV2(src, [0, 1], 0, o).held, undefined);
});

t.test('retention prunes held commands like any other (it reads their parents from the store)', async (t) => {
  const gw = await host(A);
  const dev = await host(B, { elide: true, keep: 100 });
  t.teardown(() => Promise.all([gw.reg.close(), dev.reg.close()]));
  const cmds = chainOf(A, 600);
  const sync = async (): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      const req = dev.h.request(A.peerId, { maxBytes: 65536, compact: true });
      const res = gw.h.answer(peer(B), req, { compact: true });
      await dev.h.accept(peer(A), res);
      if (!res.more) break;
    }
  };
  await seed(gw.h, cmds.slice(0, 300));
  await sync();
  t.equal(dev.h.store.size, 101, 'a window-cut first answer: its held commands placed after the genesis of the same batch');
  t.equal(dev.h.ingest.stats.batches.uncovered, 0);
  await seed(gw.h, cmds.slice(300));
  await sync();
  await dev.h.retain();
  t.equal(dev.h.store.size, 201, 'the newest window of the rest came (window 100)');
  let retained = 0;
  let heldN = 0;
  for (let h = 0; h < dev.h.store.size; h++) {
    if (!dev.h.store.isRetained(h)) continue;
    retained++;
    if (decodeHeldCommandV2(G.id, dev.h.store.bytesOf(h)).signature === null) heldN++;
  }
  t.ok(retained <= 101 + 16, `${retained} retained of ${dev.h.store.size}: the older held ones pruned`);
  t.ok(heldN > 50, `${heldN} of them held`);
});

t.test('a relay of held chains at small budgets: every answer within its budget, every batch ending signed, no wedge', async (t) => {
  const gw = await host(A);
  const dev = await host(B, { elide: true });
  t.teardown(() => Promise.all([gw.reg.close(), dev.reg.close()]));
  await seed(gw.h, chainOf(A, 300));
  await pull(dev, B, gw, A, 65536, true);
  for (const budget of [1200, 1536, 4096]) {
    const to = await host(C, { elide: true, from: B });
    const got = await pull(to, C, dev, B, budget, true);
    t.same(idsOf(to.h), idsOf(gw.h), `all of it at ${budget} B`);
    t.ok(got.answers.every((r) => encodeMessageV2(r).length <= budget), 'within the budget');
    t.ok(got.answers.every((r) => r.batch === undefined || r.batch === null || decodeBatch(G.id, r.batch, 65536).at(-1)!.signature !== null), 'the last command signed');
    await to.reg.close();
  }
});
