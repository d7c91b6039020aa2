/**
 * agent/sync/poll-responder.ts: answers within the exact byte budget, in causal order, until the
 * requester has everything (fast-check over random DAGs, budgets and starting points); the
 * per-peer cursor continued without a walk while the requester's heads show the last chunk
 * arrived, and dropped when the store changes, on `forget`, or by the LRU bound; answers built in
 * chunks equal to answers built at once; heads give way under tiny budgets.
 */
import t from 'tap';
import fc from 'fast-check';
import { MIN_POLL_BYTES, POLL_FIT_ANY_BYTES } from '../protocol/constants.js';
import { decodeCommand, type Command } from '../protocol/command.js';
import { encodeMessage } from '../protocol/envelope.js';
import type { PollRequest, PollResponse } from '../protocol/messages.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { deepestFirst, sampleOf } from '../agent/sync/graph-walk.js';
import { PollResponder } from '../agent/sync/poll-responder.js';
import { randomDag, syntheticCommand } from '../testkit/synthetic-commands.js';

const storeOf = (cmds: readonly Command[]): MemoryStore => {
  const s = new MemoryStore();
  for (const c of cmds) s.append(c);
  return s;
};

/**
 * The poll a requester holding `b` sends: its deepest heads and a sample, as ids; and, as the
 * agent's requester does (§8.1), the last command of the previous answer named among the heads
 * (`frontier`), which need not be one of the deepest — or a head at all, when it was a command
 * the requester already held that its heads did not imply.
 */
function pollFrom(b: MemoryStore, session: number, maxBytes: number, frontier?: Uint8Array): PollRequest {
  const ids = (hs: number[]): Uint8Array[] => hs.map((h) => Uint8Array.from(b.idOf(h)));
  const heads = ids(deepestFirst(b, b.heads(), 10));
  if (frontier !== undefined && !heads.some((id) => Buffer.from(id).equals(frontier))) heads.splice(9, heads.length, frontier);
  return { type: 'PollRequest', session, max_bytes: maxBytes, heads, sample: ids(sampleOf(b, 20)) };
}

/**
 * Take an answer's commands into `b` (they arrive in causal order, so every append succeeds);
 * returns the id of the last one, the next poll's frontier.
 */
function take(b: MemoryStore, r: PollResponse): Uint8Array | undefined {
  let last: Uint8Array | undefined;
  for (const bytes of r.commands) last = b.idOf(b.append(decodeCommand(bytes)));
  return last;
}

t.test('property: polls within the budget bring a requester from any prefix to the full graph', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 250 }),
      fc.nat(),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: POLL_FIT_ANY_BYTES, max: 20_000 }),
      fc.integer({ min: POLL_FIT_ANY_BYTES, max: 20_000 }),
      (n, seed, have, maxBytes, frameLimit) => {
        const cmds = randomDag(n, seed);
        const a = storeOf(cmds);
        const b = storeOf(cmds.slice(0, Math.floor(have * n)));
        const responder = new PollResponder(a);
        const limit = Math.min(maxBytes, frameLimit);
        let frontier: Uint8Array | undefined;
        for (let i = 0; i <= n + 1; i++) {
          const r = responder.answer('b', pollFrom(b, i, maxBytes, frontier), frameLimit, 1000);
          if (encodeMessage(r).length > limit || r.session !== i || r.total !== a.size || r.next_poll_ms !== 1000) return false;
          frontier = take(b, r) ?? frontier;
          if (!r.more) return b.size === a.size;
          if (r.commands.length === 0) return false; // no progress although any command fits
        }
        return false;
      },
    ),
    { numRuns: 150 },
  );
  t.pass('150 bootstraps');
});

t.test('every budget from the minimum up: the answer never exceeds it; no command fits means none sent and `more`', async (t) => {
  const a = storeOf(randomDag(60, 3));
  for (let budget = MIN_POLL_BYTES; budget <= POLL_FIT_ANY_BYTES + 50; budget += 7) {
    const r = new PollResponder(a).answer('x', pollFrom(new MemoryStore(), 1, budget), 65536, 0);
    const len = encodeMessage(r).length;
    if (len > budget) t.fail(`${len} bytes over a ${budget}-byte budget`);
    if (r.commands.length === 0 && !r.more) t.fail(`budget ${budget}: nothing sent and no more`);
  }
  t.pass('budgets 64 … 1437 honoured');
  const tiny = new PollResponder(a).answer('x', pollFrom(new MemoryStore(), 1, MIN_POLL_BYTES), 65536, 0);
  t.same([tiny.commands.length, tiny.more], [0, true], 'the smallest budget: an envelope saying more');
  t.ok(tiny.heads.length < a.heads().length || a.heads().length === 0, 'heads gave way to the envelope');
});

t.test('a requester that is up to date gets an empty answer with the heads, deepest first', async (t) => {
  const cmds = randomDag(40, 8);
  const a = storeOf(cmds);
  const r = new PollResponder(a).answer('x', pollFrom(storeOf(cmds), 5, 65536), 65536, 250);
  t.same([r.commands.length, r.more, r.total], [0, false, 40]);
  t.same(r.heads.map((id) => a.indexOf(id)), deepestFirst(a, a.heads(), 10));
});

t.test('the cursor: continued without a walk, dropped when the store changes, on forget, by the LRU bound', async (t) => {
  const chain: Command[] = [];
  for (let i = 0; i < 300; i++) chain.push(syntheticCommand(i === 0 ? [] : [chain[i - 1]!.id], i, new Uint8Array(100)));
  const a = storeOf(chain);
  const responder = new PollResponder(a);
  const b = new MemoryStore();
  let job = responder.begin('b', pollFrom(b, 1, 2000));
  t.notOk(job.continued, 'first poll: a walk');
  take(b, responder.finish(job, 65536, 0));
  job = responder.begin('b', pollFrom(b, 2, 2000));
  t.ok(job.continued, 'the next poll continues the cursor');
  t.equal(job.visited, 0, 'no walk');
  take(b, responder.finish(job, 65536, 0));
  a.append(syntheticCommand([chain[299]!.id], 300, new Uint8Array(1)));
  job = responder.begin('b', pollFrom(b, 3, 2000));
  t.notOk(job.continued, 'the store changed: a fresh walk');
  take(b, responder.finish(job, 65536, 0));
  responder.forget('b');
  t.notOk(responder.begin('b', pollFrom(b, 4, 2000)).continued, 'forgotten: a fresh walk');
  const bs = new MemoryStore();
  take(bs, responder.answer('b', pollFrom(bs, 5, 2000), 65536, 0));
  const others = Array.from({ length: PollResponder.MAX_CURSORS }, (_, i) => `p${i}`);
  for (const p of others.slice(1)) responder.answer(p, pollFrom(new MemoryStore(), 1, 2000), 65536, 0);
  t.ok(responder.begin('b', pollFrom(bs, 6, 2000)).continued, `kept beside ${PollResponder.MAX_CURSORS - 1} other bootstraps`);
  responder.answer(others[0]!, pollFrom(new MemoryStore(), 1, 2000), 65536, 0);
  t.notOk(responder.begin('b', pollFrom(bs, 7, 2000)).continued, `one more: the oldest of ${PollResponder.MAX_CURSORS} cursors evicted`);
});

t.test('regression: the cursor continues for a requester that names its last command only in its sample', async (t) => {
  // The requester holds 10 chains deeper than the branch being sent: the branch's tip is not among
  // its 10 deepest heads, only in its sample (the newest command it appended). A responder that
  // looked at the heads alone re-walked the graph for every poll of such a bootstrap.
  const shared: Command[] = [];
  for (let c = 0; c < 10; c++) {
    let parent: Uint8Array[] = [];
    for (let d = 0; d < 50; d++) {
      const cmd = syntheticCommand(parent, 1000 * c + d, Uint8Array.of(c, d));
      shared.push(cmd);
      parent = [cmd.id];
    }
  }
  const branch: Command[] = [];
  for (let i = 0; i < 100; i++) branch.push(syntheticCommand(i === 0 ? [] : [branch[i - 1]!.id], 90_000 + i, new Uint8Array(100)));
  const a = storeOf([...shared, ...branch]);
  const b = storeOf(shared);
  const responder = new PollResponder(a);
  take(b, responder.answer('b', pollFrom(b, 1, 2000), 65536, 0));
  const req = pollFrom(b, 2, 2000);
  const tip = b.idOf(b.size - 1);
  t.notOk(req.heads.some((id) => Buffer.from(id).equals(tip)), 'the last command received is not among the heads named');
  t.ok(req.sample.some((id) => Buffer.from(id).equals(tip)), 'but it is in the sample');
  const job = responder.begin('b', req);
  t.ok(job.continued, 'the cursor continues: no fresh walk');
});

t.test('an answer built in chunks equals one built at once', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 200, max: 9000 }), (n, seed, chunk, budget) => {
      const cmds = randomDag(n, seed);
      const a = storeOf(cmds);
      const req = pollFrom(storeOf(cmds.slice(0, n >> 1)), 9, budget);
      const whole = new PollResponder(a).answer('p', req, 65536, 7);
      const r = new PollResponder(a);
      const job = r.begin('p', req);
      while (!job.step(chunk));
      const parts = r.finish(job, 65536, 7);
      return JSON.stringify(encodeMessage(whole)) === JSON.stringify(encodeMessage(parts));
    }),
    { numRuns: 100 },
  );
  t.pass('100 random chunk sizes');
});
