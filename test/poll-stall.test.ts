/**
 * A v2 poll never wedges a scope's poll loop, and a poll burst never wedges the responder
 * (issue 11: one TCP write of 2,000 `PollRequest`s used to freeze a v1 agent for seconds).
 *
 * - Requester: a trusted raw peer holds the scope but never answers: each poll times out and is
 *   retried as a new poll session, forever, with backoff; a late answer to a timed-out poll is
 *   dropped; an answer to the current poll completes a round and the loop goes on polling.
 * - Responder: 2,000 polls of one scope in one burst are coalesced (one poll per (link, scope)
 *   waits in the queue: the newest), every one is accounted for (answered or superseded), and
 *   meanwhile the engine keeps serving: a local commit succeeds and a well-behaved peer gets it.
 *   No timing is asserted: the bound is structural (one answer per queued (link, scope)).
 */
import t from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { headsOf } from '../agent/sync/poll-answer-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { RawPeerV2 } from '../testkit/raw-peer-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const SCOPE = 'fleet/a';
const RWA = Role.Read | Role.Write | Role.Admin;

async function gateway(trusted: Identity[]): Promise<EngineV2> {
  const gw = await EngineV2.open({ identity: generateIdentity(), trust: { mode: 'list', keys: trusted.map((i) => i.publicKey) }, tuning: { ...FAST_V2, subscribe: false }, scopes: { max: Infinity } });
  await gw.createScope({ name: SCOPE, members: [{ publicKey: gw.identity.publicKey, roles: RWA }], openRead: true });
  return gw;
}

/** A raw peer up on `gw` with the scope active both ways: its number for it and the engine's. */
async function upRaw(gw: EngineV2, me: Identity) {
  const [a, b] = createMemoryLinkPair({ seal: 'off' });
  const s = gw.attach(a);
  const raw = new RawPeerV2(b, me);
  const host = gw.scope(SCOPE)!;
  await until(() => s.authenticated && raw.numberOf(host.id) !== undefined, 20_000, 'up, the scope offered');
  const theirs = raw.numberOf(host.id)!;
  const [mine] = raw.open([{ id: host.id, name: SCOPE }]);
  await until(() => s.table.active(host.id), 20_000, 'the scope active');
  return { raw, session: s, mine: mine!, theirs, host };
}

type Poll = Extract<MessageV2, { type: 'PollRequest' }>;

t.test('an unanswered poll times out and is retried; a late answer is dropped; an answer resumes the loop', async (t) => {
  const me = generateIdentity();
  const gw = await gateway([me]);
  t.teardown(() => gw.close());
  const { raw, session, mine, theirs, host } = await upRaw(gw, me);
  const polls = (): Poll[] => raw.got.filter((m): m is Poll => m.type === 'PollRequest' && m.scope === mine);
  await until(() => polls().length >= 4, 30_000, 'unanswered polls are retried');
  const loop = session.scoped.loopOf(host.id)!;
  t.ok(loop.timeouts >= 3, `the polls timed out (${loop.timeouts})`);
  t.equal(loop.rounds, 0, 'no round completed');
  const sessions = polls().map((p) => p.session);
  t.equal(new Set(sessions).size, sessions.length, 'each retry is a new poll session');

  const answer = (p: Poll) => raw.send({ type: 'PollResponse', scope: theirs, session: p.session, more: false, gap: false, total: 0, next_poll_ms: 50, heads: headsOf(host.store), items: [] });
  // A late answer to the first (timed-out) poll: dropped, nothing completes.
  answer(polls()[0]!);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(loop.rounds, 0, 'a late answer to a timed-out poll completes nothing');
  // Answer whatever poll is current until one lands before its timeout.
  let answered = 0;
  await until(
    () => {
      const p = polls().at(-1)!;
      if (p.session !== answered) {
        answered = p.session;
        answer(p);
      }
      return loop.rounds > 0;
    },
    30_000,
    'an answer to the current poll completes a round',
  );
  const after = polls().length;
  await until(() => polls().length > after, 30_000, 'the loop goes on polling after the round');
  t.equal(gw.scopes().find((s) => s.name === SCOPE)?.commands, 1, 'nothing was invented along the way');
});

t.test('2,000 polls of one scope in one burst: coalesced, all accounted for, the engine keeps serving', async (t) => {
  const [me, peerId] = [generateIdentity(), generateIdentity()];
  const gw = await gateway([me, peerId]);
  const peer = await EngineV2.open({ identity: peerId, trust: { mode: 'list', keys: [gw.identity.publicKey] }, tuning: FAST_V2, scopes: { join: [SCOPE] } });
  t.teardown(() => Promise.all([gw.close(), peer.close()]));
  for (let i = 0; i < 200; i++) await gw.commit(SCOPE, new TextEncoder().encode(`reading ${i}`));
  const { raw, session, theirs, host } = await upRaw(gw, me);
  const [la, lb] = createMemoryLinkPair();
  gw.attach(la);
  peer.attach(lb);
  await until(() => idsIn(peer, SCOPE).length === 201, 30_000, 'the well-behaved peer holds the scope');
  const before = { ...session.stats };
  // Asking from nothing (empty heads): each poll, if answered, costs a full walk of the scope.
  for (let i = 0; i < 2000; i++) raw.send({ type: 'PollRequest', scope: theirs, session: 10_000 + i, max_bytes: 8192, heads: [], sample: [], window: 0 });
  const id = toHex(await gw.commit(SCOPE, new TextEncoder().encode('during the burst')));
  await until(() => raw.got.some((m) => m.type === 'PollResponse' && m.session === 11_999), 60_000, 'the last poll of the burst is answered');
  const answered = session.stats.pollsAnswered - before.pollsAnswered;
  const superseded = session.stats.pollsSuperseded - before.pollsSuperseded;
  const busy = session.stats.pollsBusy - before.pollsBusy;
  t.ok(answered < 100, `${answered} answers for 2,000 polls`);
  t.equal(answered + superseded + busy, 2000, `every poll accounted for (${answered} answered, ${superseded} superseded, ${busy} busy)`);
  await until(() => idsIn(peer, SCOPE).includes(id), 30_000, 'the commit made during the burst reached the other peer');
  t.ok(host.store.indexOf(Buffer.from(id, 'hex')) >= 0, "and is in the engine's own scope");
});
