/**
 * Poll trains (PROTOCOL.md §10.6): the responder's arithmetic (budget exactness, the next request),
 * a v2 engine answering a raw peer's train poll (sizes, order, `train` on all but the last, cut by
 * a newer poll, plain answers to a peer without bit 16, the bucket charged once), and two engines
 * syncing cold over trains (one poll round, a link dropped mid-train, random budgets converge).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import type { Link } from '../agent/link.js';
import { createMemoryLinkPair, type MemoryLinkFaults } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { linkTakesTrains, nextTrainRequest, startTrain, trainContinues } from '../agent/sync/poll-train.js';
import { decodeCommandV2 } from '../protocol/command-v2.js';
import { decodeBatch } from '../protocol/compact-batch.js';
import { Capability, NONCE_BYTES } from '../protocol/constants.js';
import { CAPABILITY_COMPACT_BATCH, CAPABILITY_POLL_TRAIN, PROTOCOL_VERSION_2, Role } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import type { MessageV2, PollRequest, PollResponse } from '../protocol/messages-v2.js';
import { ephemeralFromSecret } from '../protocol/seal.js';
import { authV2 } from '../testkit/fuzz-inputs-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const RWA = Role.Read | Role.Write | Role.Admin;
const NAME = 'fleet/train';
const id32 = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const poll = (o: Partial<PollRequest>): PollRequest => ({ type: 'PollRequest', scope: 0, session: 1, max_bytes: 4096, heads: [], sample: [], window: 0, ...o });

t.test('budget exactness: answer k + 1 follows iff it carried an item, more, and s_k + b ≤ T', async (t) => {
  const tr = startTrain(poll({ max_bytes: 4096 }), 10_000, 65_000)!;
  t.equal(tr.budget, 4096, 'b = min(max_bytes, frame limit)');
  const items = [new Uint8Array(1)];
  t.ok(trainContinues(tr, { more: true, items }, 4000), 's_1 = 4000: 4000 + 4096 ≤ 10000');
  t.notOk(trainContinues(tr, { more: true, items }, 2000), 's_2 = 6000: 6000 + 4096 > 10000, the train ends');
  t.equal(tr.spent, 6000, 'spent counts every answer');
  const tr2 = startTrain(poll({}), 1 << 20, 65_000)!;
  t.notOk(trainContinues(tr2, { more: false, items }, 100), 'nothing left: the last answer');
  const tr3 = startTrain(poll({}), 1 << 20, 65_000)!;
  t.notOk(trainContinues(tr3, { more: true, items: [] }, 60), 'an answer that fit nothing ends the train');
  t.equal(startTrain(poll({}), 0, 65_000), null, 'train_bytes 0: no train');
  t.equal(startTrain(poll({ max_bytes: 65_536 }), 1 << 20, 1536)!.budget, 1536, 'the frame limit bounds b');
});

t.test('the next request names the last command carried (the first request otherwise unchanged); records only: the last record joins the sample', async (t) => {
  const me = generateIdentity();
  const scope = id32(7);
  const { encodeCommandV2 } = await import('../protocol/command-v2.js');
  const cmd = encodeCommandV2(scope, { parents: [id32(1)], author: me.author, seq: 1, kind: 0, payload: new Uint8Array(10) }, me.sign);
  const first = poll({ heads: [id32(9)], sample: [id32(8)], session: 5 });
  const tr = startTrain(first, 1 << 20, 65_000)!;
  const res = { items: [cmd.bytes] };
  const next = nextTrainRequest(tr, res, cmd.id);
  t.same(next.heads.map(toHex), [toHex(id32(9)), toHex(cmd.id)], 'appended to the first heads');
  t.same([next.session, next.sample.length, next.max_bytes], [5, 1, 4096], 'session, sample and budget kept');
  const full = startTrain(poll({ heads: Array.from({ length: 10 }, (_, i) => id32(20 + i)) }), 1 << 20, 65_000)!;
  const n2 = nextTrainRequest(full, res, cmd.id);
  t.equal(n2.heads.length, 10, 'a full list stays at 10');
  t.equal(toHex(n2.heads[9]!), toHex(cmd.id), 'the last head replaced');
  const { encodeHorizonRecord } = await import('../protocol/horizon-record.js');
  const record = encodeHorizonRecord({ id: id32(3), depth: 4, frontier: [id32(2)] });
  const byRecord = nextTrainRequest(tr, { items: [record] }, null);
  t.same([byRecord.heads.length, toHex(byRecord.sample.at(-1)!)], [1, toHex(id32(3))], 'an answer of records only: its last record joins the sample');
  t.ok(trainContinues(startTrain(first, 1 << 20, 65_000)!, { more: true, items: [], batch: Uint8Array.of(1) }, 100), 'a batch counts as carried');
  t.ok(linkTakesTrains('tcp://127.0.0.1:7000') && linkTakesTrains('tls://h:1') && linkTakesTrains('memory:a'), 'fast links ask for trains');
  t.notOk(linkTakesTrains('serial:/dev/ttyUSB0') || linkTakesTrains('mqtt://broker/x') || linkTakesTrains('lossy-0'), 'serial and MQTT links do not');
});

/** A peer on `protocol/` alone with the `caps` it is given: it authenticates and acknowledges `Scopes`. */
class CapsPeer {
  readonly got: MessageV2[] = [];
  private readonly hello: Uint8Array;
  /** Called with each message as it arrives (after it is recorded). */
  onMessage: (m: MessageV2) => void = () => {};
  constructor(
    readonly link: Link,
    me: Identity,
    caps: number,
  ) {
    this.hello = encodeMessageV2({
      type: 'Hello', version: PROTOCOL_VERSION_2, public_key: me.publicKey, max_frame: 65536, caps,
      nonce: new Uint8Array(randomBytes(NONCE_BYTES)), ephemeral: ephemeralFromSecret(new Uint8Array(randomBytes(32))).publicKey,
    });
    let authed = false;
    link.on('frame', (body) => {
      const m = decodeMessageV2(body);
      this.got.push(m);
      if (m.type === 'Hello' && !authed) {
        authed = true;
        link.send(authV2(me, this.hello, body));
      }
      if (m.type === 'Scopes') this.send({ type: 'ScopesAck', seq: m.seq, refused: [] });
      this.onMessage(m);
    });
    link.send(this.hello);
  }
  send(m: MessageV2): void {
    this.link.send(encodeMessageV2(m));
  }
  answers(session: number): PollResponse[] {
    return this.got.filter((m): m is PollResponse => m.type === 'PollResponse' && m.session === session);
  }
}

/** A gateway holding NAME with `n` commands (about 230 bytes each), and a raw peer of `caps` with NAME open. */
async function gatewayWith(t: Test, n: number, caps: number): Promise<{ gw: EngineV2; peer: CapsPeer; number: number }> {
  const me = generateIdentity();
  const gw = await EngineV2.open({ identity: generateIdentity(), trust: { mode: 'list', keys: [me.publicKey] }, tuning: { ...FAST_V2, pollBucket: { capacity: 4, perSecond: 0.001 } }, scopes: { max: Infinity } });
  t.teardown(() => gw.close());
  await gw.createScope({ name: NAME, members: [{ publicKey: gw.identity.publicKey, roles: RWA }], openRead: true });
  for (let i = 0; i < n; i++) await gw.commit(NAME, new Uint8Array(100).fill(i & 0xff));
  const [a, b] = createMemoryLinkPair({ seal: 'off' });
  const s = gw.attach(a);
  const peer = new CapsPeer(b, me, caps);
  const h = gw.scope(NAME)!;
  let theirs: number | undefined;
  await until(() => s.authenticated && (theirs = peer.got.flatMap((m) => (m.type === 'Scopes' ? m.open : [])).find((e) => toHex(e[1]) === toHex(h.id))?.[0]) !== undefined, 20_000, 'scope offered');
  peer.send({ type: 'Scopes', seq: 0, open: [[0, h.id, NAME]], close: [] });
  await until(() => s.table.active(h.id), 20_000, 'scope active');
  return { gw, peer, number: theirs! };
}

const TRAIN_CAPS = Capability.Push | Capability.BareCommand | CAPABILITY_POLL_TRAIN;

t.test('a train: answers ≤ b, all but the last train = true, ≤ T in all, every command once, in order', async (t) => {
  const { gw, peer, number } = await gatewayWith(t, 300, TRAIN_CAPS);
  const T = 30_000;
  const b = 4096;
  peer.send({ ...poll({ scope: number, session: 11, max_bytes: b }), elide: false, train_bytes: T });
  await until(() => peer.answers(11).some((r) => r.train !== true), 20_000, 'the last answer of the train');
  const train = peer.answers(11);
  const sizes = train.map((r) => encodeMessageV2(r).length);
  t.ok(train.length > 1, `${train.length} answers`);
  t.ok(sizes.every((n) => n <= b), 'each answer ≤ b');
  t.ok(sizes.reduce((x, y) => x + y, 0) <= T, `the train totals ${sizes.reduce((x, y) => x + y, 0)} ≤ T`);
  t.same(train.map((r) => r.train), [...train.slice(1).map(() => true), false], 'train true on all but the last');
  t.ok(train.slice(0, -1).every((r) => r.more && r.items.length > 0), 'every answer but the last had more');
  // s_k + b ≤ T decided each one: the last answer ended because the next would not fit T.
  const spentBeforeLast = sizes.slice(0, -1).reduce((x, y) => x + y, 0);
  t.ok(spentBeforeLast + b <= T && spentBeforeLast + sizes.at(-1)! + b > T, 'the train ends where T is spent');
  const h = gw.scope(NAME)!;
  const ids = train.flatMap((r) => r.items.map((i) => toHex(decodeCommandV2(h.id, i).id)));
  t.equal(new Set(ids).size, ids.length, 'no command twice');
  t.ok(ids.length > 0, `${ids.length} commands carried`);
  t.equal(gw.sessions()[0]!.stats.pollsAnswered, train.length, 'one answer counted per train answer');
});

t.test('a train of compact batches: every command once, in order (each next request names the batch\'s last command)', async (t) => {
  const { gw, peer, number } = await gatewayWith(t, 300, TRAIN_CAPS | CAPABILITY_COMPACT_BATCH);
  peer.send({ ...poll({ scope: number, session: 12, max_bytes: 4096 }), elide: false, train_bytes: 30_000 });
  await until(() => peer.answers(12).some((r) => r.train !== true), 20_000, 'the last answer of the train');
  const train = peer.answers(12);
  t.ok(train.length > 1 && train.every((r) => r.batch instanceof Uint8Array), `${train.length} answers, each with a batch`);
  const h = gw.scope(NAME)!;
  const ids = train.flatMap((r) => decodeBatch(h.id, r.batch!, 65_536).map((c) => toHex(c.id)));
  t.equal(new Set(ids).size, ids.length, 'no command twice');
  const order = ids.map((id) => h.store.indexOf(Uint8Array.from(Buffer.from(id, 'hex'))));
  t.ok(order.every((x, i) => i === 0 || x > order[i - 1]!), 'in store order: each answer continued the last');
});

t.test('a peer without bit 16 gets one plain answer', async (t) => {
  const { peer, number } = await gatewayWith(t, 100, Capability.Push | Capability.BareCommand);
  peer.send({ ...poll({ scope: number, session: 21, max_bytes: 4096 }), elide: false, train_bytes: 1 << 20 });
  await until(() => peer.answers(21).length > 0, 20_000, 'answered');
  peer.send(poll({ scope: number, session: 22, max_bytes: 4096, heads: [] }));
  await until(() => peer.answers(22).length > 0, 20_000, 'the next poll answered');
  const a = peer.answers(21);
  t.equal(a.length, 1, 'one answer');
  t.ok(a[0]!.more, 'more left');
  t.equal(a[0]!.train, undefined, 'no train field');
});

t.test('a newer poll cuts the train: nothing of the old session after the new answer', async (t) => {
  const { peer, number } = await gatewayWith(t, 1500, TRAIN_CAPS);
  let cut = false;
  peer.onMessage = (m) => {
    if (cut || m.type !== 'PollResponse' || m.session !== 31) return;
    cut = true; // at the first answer: the rest of the 1,500-answer train is still to be built
    peer.send(poll({ scope: number, session: 32, max_bytes: 400 }));
  };
  // b = 400: one command per answer, so the train would have 1,500 answers.
  peer.send({ ...poll({ scope: number, session: 31, max_bytes: 400 }), elide: false, train_bytes: 1 << 20 });
  await until(() => peer.answers(32).length > 0, 20_000, 'the newer poll answered');
  peer.send(poll({ scope: number, session: 33, max_bytes: 400 }));
  await until(() => peer.answers(33).length > 0, 20_000, 'and the one after it');
  const at32 = peer.got.findIndex((m) => m.type === 'PollResponse' && m.session === 32);
  t.notOk(peer.got.slice(at32).some((m) => m.type === 'PollResponse' && m.session === 31), 'no answer of session 31 after 32 was answered');
  const old = peer.answers(31);
  t.ok(old.length < 1500, `the train was cut after ${old.length} answers`);
  t.ok(old.every((r) => r.train === true), 'no last answer was sent for the cut train');
});

t.test('a train costs its first poll only: later answers are never refused', async (t) => {
  const { gw, peer, number } = await gatewayWith(t, 200, TRAIN_CAPS);
  // The bucket holds 4 tokens and does not refill within the test; a train of many answers needs none.
  peer.send({ ...poll({ scope: number, session: 41, max_bytes: 1024 }), elide: false, train_bytes: 1 << 20 });
  await until(() => peer.answers(41).some((r) => r.train !== true), 20_000, 'the train ended');
  t.ok(peer.answers(41).length > 10, `${peer.answers(41).length} answers`);
  t.notOk(peer.got.some((m) => m.type === 'Error'), 'no Busy');
  t.equal(gw.sessions()[0]!.stats.pollsBusy, 0, 'nothing refused');
  t.notOk(peer.answers(41).at(-1)!.more, 'the whole scope in one train');
});

/** A writer holding NAME with `n` commands and a cold member that joins it; `t` closes both. */
async function pair(t: Pick<Test, 'teardown'>, n: number, tuning: object = {}): Promise<{ a: EngineV2; b: EngineV2; link: (f?: MemoryLinkFaults) => [Link, Link] }> {
  const [ai, bi] = [generateIdentity(), generateIdentity()];
  const a = await EngineV2.open({ identity: ai, trust: { mode: 'list', keys: [bi.publicKey] }, tuning: { ...FAST_V2, subscribe: false, ...tuning }, scopes: { max: Infinity } });
  const b = await EngineV2.open({ identity: bi, trust: { mode: 'list', keys: [ai.publicKey] }, tuning: { ...FAST_V2, subscribe: false, ...tuning }, scopes: { join: [NAME] } });
  t.teardown(async () => Promise.all([a.close(), b.close()]));
  await a.createScope({ name: NAME, members: [{ publicKey: ai.publicKey, roles: RWA }], openRead: true });
  for (let i = 0; i < n; i++) await a.commit(NAME, new Uint8Array(100).fill(i & 0xff));
  const link = (f: MemoryLinkFaults = {}): [Link, Link] => {
    const [la, lb] = createMemoryLinkPair({ seal: 'off', ...f });
    a.attach(la);
    b.attach(lb);
    return [la, lb];
  };
  return { a, b, link };
}

t.test('two engines: a cold sync of 1,000 commands in one poll answered by a train', async (t) => {
  const { a, b, link } = await pair(t, 1000);
  let first: number | null = null;
  b.on('frame-out', (_p, m) => {
    const msg = m.length > 0 ? decodeMessageV2(m) : null;
    if (first === null && msg?.type === 'PollRequest') first = msg.session;
  });
  const toB: PollResponse[] = [];
  a.on('frame-out', (_p, m) => {
    const msg = m.length > 0 ? decodeMessageV2(m) : null;
    if (msg?.type === 'PollResponse' && msg.session === first) toB.push(msg);
  });
  link();
  await until(() => idsIn(b, NAME).length === 1001, 30_000, 'B holds the scope');
  t.same(idsIn(b, NAME), idsIn(a, NAME), 'converged');
  t.ok(toB.length > 1, `B's first poll was answered by a train of ${toB.length}`);
  const carried = (r: PollResponse): number => r.items.length + (r.batch ? decodeBatch(a.scope(NAME)!.id, r.batch, 1 << 16).length : 0);
  t.equal(toB.reduce((n, r) => n + carried(r), 0), 1001, 'carrying the whole scope (genesis included)');
  t.same([toB.at(-1)!.train, toB.at(-1)!.more], [false, false], 'its last answer ends the poll and the round');
  const loop = b.sessions()[0]!.scoped.loopOf(b.scope(NAME)!.id)!;
  t.equal(loop.trainAnswers, toB.length - 1, 'the loop took in every train answer');
});

t.test('pollTrainBytes 0: the same sync takes one poll per answer', async (t) => {
  const { a, b, link } = await pair(t, 600, { pollTrainBytes: 0, pollMaxBytes: 8192 });
  link();
  await until(() => idsIn(b, NAME).length === 601, 30_000, 'B holds the scope');
  t.same(idsIn(b, NAME), idsIn(a, NAME), 'converged');
  const loop = b.sessions()[0]!.scoped.loopOf(b.scope(NAME)!.id)!;
  t.equal(loop.trainAnswers, 0, 'no train');
  t.ok(loop.polls >= 5, `${loop.polls} polls (600 commands in answers of 8 KiB)`);
});

t.test('a link dropped mid-train: the train ends, the next link syncs the rest', async (t) => {
  const { a, b, link } = await pair(t, 800, { pollMaxBytes: 2048 });
  let la: Link | null = null;
  let seen = 0;
  const lose = (body: Uint8Array): boolean => {
    const m = decodeMessageV2(body);
    if (m.type === 'PollResponse' && m.train === true && ++seen === 3) setImmediate(() => void la?.close());
    return false;
  };
  [la] = link({ lose });
  await until(() => seen >= 3 && a.sessions().length === 0 && b.sessions().length === 0, 20_000, 'the link went down mid-train');
  const mid = idsIn(b, NAME).length;
  t.ok(mid < 801, `B held ${mid} of 801 when the link dropped`);
  link();
  await until(() => idsIn(b, NAME).length === 801, 30_000, 'B holds the scope over the next link');
  t.same(idsIn(b, NAME), idsIn(a, NAME), 'converged');
});

t.test('property: any budgets, train sizes and lossy links converge', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 300 }),
      fc.constantFrom(1536, 4096, 65536),
      fc.constantFrom(0, 2000, 50_000, 1 << 20),
      fc.constantFrom(0, 0.05),
      async (n, maxBytes, trainBytes, drop) => {
        const cleanups: Array<() => unknown> = [];
        const sub = { teardown: (f: () => unknown) => void cleanups.push(f) };
        try {
          const { a, b, link } = await pair(sub, n, { pollMaxBytes: maxBytes, pollTrainBytes: trainBytes });
          link({ drop, random: seeded(n * 7 + maxBytes) });
          await until(() => idsIn(b, NAME).length === n + 1, 60_000, 'converged');
          return idsIn(b, NAME).join() === idsIn(a, NAME).join();
        } finally {
          for (const f of cleanups) await f();
        }
      },
    ),
    { numRuns: 6, seed: 17 },
  );
  t.pass('6 runs converged');
});

/** A small deterministic random source for lossy links. */
function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}
