/**
 * The v2 responder's pacing (protocol-v2.md §13.2) against a raw peer: one token bucket per peer
 * shared by all of its scopes (idle polls of two scopes drain the same bucket; the scope count
 * does not grow the allowance), `Error{Busy, retry_after_ms ≥ next_poll_ms, scope}` naming the
 * requester's number once it is empty, and a burst of polls of one scope costs one answer (the
 * poll queue keeps one poll per (link, scope)). The requester side honours `Busy` per scope.
 */
import t from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { headsOf } from '../agent/sync/poll-answer-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { generateIdentity, type Identity } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { RawPeerV2 } from '../testkit/raw-peer-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

const RWA = Role.Read | Role.Write | Role.Admin;
// Four tokens that do not come back within a test (one per 1,000 s): no timing in the assertions.
const BUCKET = { capacity: 4, perSecond: 0.001 };

async function gateway(raw: Identity): Promise<{ gw: EngineV2; names: string[] }> {
  const gw = await EngineV2.open({ identity: generateIdentity(), trust: { mode: 'list', keys: [raw.publicKey] }, tuning: { ...FAST_V2, pollBucket: BUCKET }, scopes: { max: Infinity } });
  const names = ['fleet/a', 'fleet/b'];
  for (const name of names) await gw.createScope({ name, members: [{ publicKey: gw.identity.publicKey, roles: RWA }], openRead: true });
  return { gw, names };
}

async function upRaw(gw: EngineV2, me: Identity, names: string[]): Promise<{ raw: RawPeerV2; mine: number[]; theirs: number[] }> {
  const [a, b] = createMemoryLinkPair({ seal: 'off' });
  const s = gw.attach(a);
  const raw = new RawPeerV2(b, me);
  const hosts = names.map((n) => gw.scope(n)!);
  await until(() => s.authenticated && hosts.every((h) => raw.numberOf(h.id) !== undefined), 20_000, 'up, both scopes offered');
  const theirs = hosts.map((h) => raw.numberOf(h.id)!);
  const mine = raw.open(hosts.map((h, i) => ({ id: h.id, name: names[i]! })));
  await until(() => hosts.every((h) => s.table.active(h.id)), 20_000, 'both scopes active');
  return { raw, mine, theirs };
}

const answersTo = (got: MessageV2[], session: number): MessageV2[] =>
  got.filter((m) => (m.type === 'PollResponse' && m.session === session) || (m.type === 'Error' && m.code === ReasonCode.Busy && m.scope !== undefined));

t.test('one token bucket per peer, shared by its scopes; Busy names the scope and waits at least the hint', async (t) => {
  const me = generateIdentity();
  const { gw, names } = await gateway(me);
  t.teardown(() => gw.close());
  const { raw, theirs } = await upRaw(gw, me, names);
  const heads = names.map((n) => headsOf(gw.scope(n)!.store));
  const outcome: string[] = [];
  for (let i = 0; i < 8; i++) {
    const k = i % 2; // alternate the two scopes
    const before = raw.got.length;
    raw.send({ type: 'PollRequest', scope: theirs[k]!, session: 100 + i, max_bytes: 8192, heads: heads[k]!, sample: [], window: 0 });
    await until(() => answersTo(raw.got.slice(before), 100 + i).length > 0, 20_000, `poll ${i} answered`);
    const m = answersTo(raw.got.slice(before), 100 + i)[0]!;
    if (m.type === 'PollResponse') {
      t.same([m.items.length, m.more], [0, false], `poll ${i} is idle`);
      outcome.push('answer');
    } else if (m.type === 'Error') {
      t.equal(m.scope, theirs[k], `Busy ${i} names the scope by the requester's number`);
      t.ok((m.retry_after_ms ?? 0) >= FAST_V2.pollHint!.minMs, `Busy ${i} waits at least the hint (${m.retry_after_ms} ms)`);
      outcome.push('busy');
    }
  }
  t.same(outcome, ['answer', 'answer', 'answer', 'answer', 'busy', 'busy', 'busy', 'busy'], 'four idle polls over two scopes empty the one bucket');
  t.equal(gw.sessions()[0]?.stats.pollsBusy, 4, 'counted');
});

t.test('a burst of polls of one scope is answered once (one poll per (link, scope) in the queue)', async (t) => {
  const me = generateIdentity();
  const { gw, names } = await gateway(me);
  t.teardown(() => gw.close());
  const { raw, theirs } = await upRaw(gw, me, names);
  const heads = headsOf(gw.scope(names[0]!)!.store);
  for (let i = 0; i < 50; i++) raw.send({ type: 'PollRequest', scope: theirs[0]!, session: 200 + i, max_bytes: 8192, heads, sample: [], window: 0 });
  await until(() => raw.got.some((m) => m.type === 'PollResponse' && m.session === 249), 20_000, 'the last poll is answered');
  const answered = raw.got.filter((m) => m.type === 'PollResponse' && m.session >= 200).length;
  t.ok(answered < 50, `${answered} answers for 50 polls`);
  t.ok((gw.sessions()[0]?.stats.pollsSuperseded ?? 0) > 0, 'the others were superseded');
  t.equal(gw.sessions()[0]?.stats.pollsBusy, 0, 'none refused: one answer costs one token');
});

t.test('the requester honours Busy per (link, scope): the other scope keeps polling', async (t) => {
  const me = generateIdentity();
  const { gw, names } = await gateway(me);
  t.teardown(() => gw.close());
  const { raw, mine } = await upRaw(gw, me, names);
  const polls = (n: number): number[] => raw.got.flatMap((m) => (m.type === 'PollRequest' && m.scope === n ? [m.session] : []));
  await until(() => polls(mine[0]!).length > 0 && polls(mine[1]!).length > 0, 20_000, 'the engine polls both scopes');
  // Busy for the first scope, "come back in an hour"; the second scope's polls go unanswered (they time out and retry).
  raw.send({ type: 'Error', code: ReasonCode.Busy, message: 'busy', retry_after_ms: 3_600_000, scope: mine[0]! });
  await new Promise((r) => setImmediate(r));
  const [a0, b0] = [polls(mine[0]!).length, polls(mine[1]!).length];
  await until(() => polls(mine[1]!).length >= b0 + 2, 20_000, 'the other scope polls again');
  t.equal(polls(mine[0]!).length, a0, 'the busy scope did not poll again');
});
