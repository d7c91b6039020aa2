/**
 * The v2 dead-link watchdog on a real engine (issue 16): a raw peer that completes the handshake,
 * opens the scope and then never answers the engine's polls gets its link closed after exactly
 * `deadAfterTimeouts` timeouts (default 8), with a warn line and `deadLinkCloses`; a peer that
 * answers every other poll (a `PollResponse` or a scoped `Busy`), or answers none but sends a
 * message of its own after each (any message heard resets the count), is never closed; 0 never closes;
 * the count survives `restartScopes` and starts at 0 on a new link.
 */
import t, { type Test } from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { Logger } from '../agent/node/log.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import type { SessionV2 } from '../agent/sync/session-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { generateIdentity, type Identity } from '../protocol/keys.js';
import type { MessageV2, PollRequest } from '../protocol/messages-v2.js';
import { RawPeerV2 } from '../testkit/raw-peer-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

const NAME = 'fleet/watchdog';
const RWA = Role.Read | Role.Write | Role.Admin;

interface Rig {
  gw: EngineV2;
  /** The raw peer's identity. */
  me: Identity;
  s: SessionV2;
  raw: RawPeerV2;
  scopeId: Uint8Array;
  /** The engine's own number for the scope (what answers to it name). */
  number: number;
  warns: { fields: Record<string, unknown>; msg: string }[];
  polls(): PollRequest[];
}

/** A gateway holding NAME, tuned so a poll times out in 30 ms and backs off at most 20 ms, linked to a raw peer with NAME open. */
async function rig(t: Test, deadAfterTimeouts?: number): Promise<Rig> {
  const me = generateIdentity();
  const warns: Rig['warns'] = [];
  const logger: Logger = { debug() {}, info() {}, error() {}, warn: (fields, msg) => void warns.push({ fields: fields as Record<string, unknown>, msg: msg ?? '' }) };
  const tuning = {
    ...FAST_V2, pollTimeoutMs: 30, pollTimeoutMsPerByte: 0, backoff: { baseMs: 5, capMs: 20, floorMs: 5, jitter: 0 }, subscribe: false as const,
    ...(deadAfterTimeouts === undefined ? {} : { deadAfterTimeouts }),
  };
  const gw = await EngineV2.open({ identity: generateIdentity(), trust: { mode: 'list', keys: [me.publicKey] }, tuning, logger, scopes: { max: Infinity } });
  t.teardown(() => gw.close());
  const h = await gw.createScope({ name: NAME, members: [{ publicKey: gw.identity.publicKey, roles: RWA }], openRead: true });
  return { gw, me, warns, scopeId: h.id, ...(await link(gw, me, h.id)) };
}

/** A new link from the raw peer `me` to `gw`, up with NAME active both ways. */
async function link(gw: EngineV2, me: Identity, scopeId: Uint8Array): Promise<Pick<Rig, 's' | 'raw' | 'number' | 'polls'>> {
  const [a, b] = createMemoryLinkPair({ seal: 'off' });
  const s = gw.attach(a);
  const raw = new RawPeerV2(b, me);
  await until(() => s.authenticated && raw.numberOf(scopeId) !== undefined, 20_000, 'up, and the scope offered');
  raw.open([{ id: scopeId, name: NAME }]);
  await until(() => s.table.active(scopeId), 20_000, 'the scope is active on the link');
  const polls = (): PollRequest[] => raw.got.filter((m): m is PollRequest => m.type === 'PollRequest');
  return { s, raw, number: raw.numberOf(scopeId)!, polls };
}

/** Have the raw peer answer every other poll of the engine with `reply` (the 1st, 3rd, … go unanswered). */
function answerEveryOther(r: Rig, reply: (req: PollRequest) => MessageV2): void {
  let n = 0;
  r.raw.link.on('frame', () => {
    // The raw peer's own listener came first: the poll just received is in `got` already.
    for (let req = r.polls()[n]; req !== undefined; req = r.polls()[n]) if (n++ % 2 === 1) r.raw.send(reply(req));
  });
}

t.test('a peer that never answers a poll: the link is closed after exactly deadAfterTimeouts timeouts (the default, 8)', async (t) => {
  const r = await rig(t);
  const loop = r.s.scoped.loopOf(r.scopeId)!;
  await until(() => !r.s.link.open, 20_000, 'the link closed');
  t.equal(r.s.stats.deadLinkCloses, 1, 'counted once');
  t.equal(loop.timeouts, 8, 'after eight timeouts');
  t.equal(r.polls().length, 8, 'eight polls, each timed out: no ninth');
  const w = r.warns.filter((x) => x.msg.includes('no poll answered'));
  t.same(w, [{ fields: { peer: r.s.peerId, link: r.s.linkName, timeouts: 8 }, msg: 'no poll answered in 8 tries in a row; closing the link so its transport redials' }], 'one warn line');
  await until(() => r.gw.sessions().length === 0, 5000, 'the session is gone');
});

t.test('deadAfterTimeouts 3 closes after three', async (t) => {
  const r = await rig(t, 3);
  const loop = r.s.scoped.loopOf(r.scopeId)!;
  await until(() => !r.s.link.open, 20_000, 'the link closed');
  t.same([loop.timeouts, r.polls().length, r.s.stats.deadLinkCloses], [3, 3, 1], 'three timeouts, three polls, one close');
});

t.test('deadAfterTimeouts 0: a peer that never answers is never closed', async (t) => {
  const r = await rig(t, 0);
  const loop = r.s.scoped.loopOf(r.scopeId)!;
  await until(() => loop.timeouts >= 12, 20_000, 'well past eight timeouts');
  t.ok(r.s.link.open, 'the link stays open');
  t.same([r.s.stats.deadLinkCloses, r.warns.filter((x) => x.msg.includes('no poll answered')).length], [0, 0], 'no close, no warn');
  t.equal(r.s.watchdog.timeouts, loop.timeouts, 'the count still runs (the loop is the link’s only one)');
});

for (const kind of ['PollResponse', 'Busy'] as const) {
  t.test(`a peer that answers every other poll (${kind}) is never closed, deadAfterTimeouts 2`, async (t) => {
    const r = await rig(t, 2);
    answerEveryOther(r, (req) => kind === 'PollResponse'
      ? { type: 'PollResponse', scope: r.number, session: req.session, more: false, gap: false, total: 1, next_poll_ms: 10, heads: [], items: [], batch: null }
      : { type: 'Error', code: ReasonCode.Busy, message: 'busy', retry_after_ms: 1, scope: r.number });
    const loop = r.s.scoped.loopOf(r.scopeId)!;
    await until(() => r.polls().length >= 14 || !r.s.link.open, 20_000, 'fourteen polls');
    t.ok(r.s.link.open, 'the link stays open');
    t.ok(loop.timeouts >= 7, `${loop.timeouts} timeouts, never two in a row`);
    t.ok(r.s.watchdog.timeouts <= 1, 'the count ends at 1 at most');
    t.equal(r.s.stats.deadLinkCloses, 0, 'no close');
  });
}

t.test('a peer that answers no poll but is heard after each (a poll of its own) is never closed, deadAfterTimeouts 2', async (t) => {
  const r = await rig(t, 2);
  let n = 0;
  r.raw.link.on('frame', () => {
    for (; n < r.polls().length; n++) r.raw.send({ type: 'PollRequest', scope: r.number, session: 1000 + n, max_bytes: 4096, heads: [], sample: [], window: 0 });
  });
  const loop = r.s.scoped.loopOf(r.scopeId)!;
  await until(() => loop.timeouts >= 6 || !r.s.link.open, 20_000, 'six timeouts');
  t.ok(r.s.link.open, `the link stays open after ${loop.timeouts} timeouts, none answered`);
  t.equal(r.s.stats.deadLinkCloses, 0, 'no close');
});

t.test('the count survives restartScopes and starts at 0 on a new link', async (t) => {
  const r = await rig(t, 1000);
  await until(() => r.s.watchdog.timeouts >= 2, 20_000, 'two timeouts');
  const [w, n] = [r.s.watchdog, r.s.watchdog.timeouts];
  const oldLoop = r.s.scoped.loopOf(r.scopeId)!;
  r.s.restartScopes({ type: 'Scopes', seq: 0, open: [[7, r.scopeId, NAME]], close: [] });
  t.equal(r.s.watchdog, w, 'the same watchdog');
  t.ok(r.s.watchdog.timeouts >= n, 'the count kept');
  await until(() => r.s.scoped.loopOf(r.scopeId) !== undefined && r.s.scoped.loopOf(r.scopeId) !== oldLoop && r.s.scoped.loopOf(r.scopeId)!.timeouts >= 1, 20_000, 'the new loop timed out');
  // The raw peer's ScopesAck for the restart was heard in between, so the count started again.
  t.ok(r.s.watchdog.timeouts >= 1, 'the new loop counts on the same watchdog');
  await r.s.link.close();
  const me2 = await link(r.gw, r.me, r.scopeId);
  t.equal(me2.s.watchdog.timeouts, 0, 'a new link starts at 0');
});
