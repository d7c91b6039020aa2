/**
 * agent/sync/scope-table.ts, scope-receiver.ts and scope-announcer.ts on their own, with fake
 * hosts and a fake clock (design v2-scopes §3.3): each sender and receiver rule by name, lost,
 * duplicated and reordered `Scopes` / `ScopesAck`, refusals with each reason, the 60 s give-up,
 * and a property: two tables over a lossy, duplicating, reordering channel converge to the scopes
 * both sides grant.
 */
import t from 'tap';
import fc from 'fast-check';
import { MAX_LINK_SCOPES, MAX_SCOPES_CLOSE, MAX_SCOPES_OPEN } from '../protocol/constants-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { ScopeAnnouncer, type Scheduler } from '../agent/sync/scope-announcer.js';
import { ScopeTable, type JoinVerdict, type ScopeCounter, type ScopesAckMessage, type ScopesMessage, type ScopeTableHost } from '../agent/sync/scope-table.js';

/** A 32-byte scope id standing for scope `i`. */
const id = (i: number): Uint8Array => {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setUint32(0, i);
  return b;
};
const idx = (scopeId: Uint8Array): number => new DataView(scopeId.buffer, scopeId.byteOffset).getUint32(0);
const nameOf = (i: number): string => `fleet/s${i}`;

/** Timers that run only when the test advances the clock. */
class FakeClock implements Scheduler {
  now = 0;
  private timers: { at: number; order: number; fn: () => void; live: boolean }[] = [];
  private order = 0;
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.now + ms, order: this.order++, fn, live: true };
    this.timers.push(timer);
    return () => void (timer.live = false);
  }
  /** Ms until the next live timer, undefined when none. */
  untilNext(): number | undefined {
    const live = this.timers.filter((x) => x.live);
    return live.length === 0 ? undefined : Math.min(...live.map((x) => x.at)) - this.now;
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (due === undefined) break;
      due.live = false;
      this.now = due.at;
      due.fn();
    }
    this.timers = this.timers.filter((x) => x.live);
    this.now = end;
  }
}

type Msg = ScopesMessage | ScopesAckMessage;

/** One side of a link: a fake host (held, granted and joinable scopes by index), its table and announcer. */
function side(clock: FakeClock, o: { holds?: number[]; grants?: number[]; joinable?: number[]; join?: (i: number) => JoinVerdict } = {}) {
  const holds = new Set([...(o.holds ?? []), ...(o.grants ?? [])]);
  const grants = new Set(o.grants ?? []);
  const joinable = new Set(o.joinable ?? []);
  const seen = { active: new Map<number, number>(), inactive: [] as number[], refused: [] as [number, string | number][], joins: [] as number[], closed: [] as string[], counts: {} as Partial<Record<ScopeCounter, number>> };
  const host: ScopeTableHost = {
    holds: (s) => holds.has(idx(s)),
    grants: (s) => grants.has(idx(s)),
    join: (s) => {
      const i = idx(s);
      seen.joins.push(i);
      const verdict = o.join?.(i) ?? (joinable.has(i) ? 'joined' : 'declined');
      if (verdict === 'joined') holds.add(i), grants.add(i);
      return verdict;
    },
    onActive: (s, n) => void seen.active.set(idx(s), n),
    onInactive: (s) => {
      seen.active.delete(idx(s));
      seen.inactive.push(idx(s));
    },
    onRefused: (s, _name, reason) => void seen.refused.push([idx(s), reason]),
    count: (what) => void (seen.counts[what] = (seen.counts[what] ?? 0) + 1),
  };
  const table = new ScopeTable(host);
  const sent: Msg[] = [];
  const announcer = new ScopeAnnouncer(table, { send: (m) => void sent.push(m), closeLink: (r) => void seen.closed.push(r) }, clock);
  const grant = (i: number): void => {
    if (!holds.has(i)) return;
    grants.add(i);
    table.open(id(i), nameOf(i));
  };
  const revoke = (i: number): void => {
    if (!holds.has(i)) return;
    grants.delete(i);
    table.close(id(i));
  };
  // Link-up: every granted scope is opened, in one Scopes.
  const up = (): void => {
    for (const i of grants) table.open(id(i), nameOf(i));
    announcer.flush();
  };
  const receive = (m: Msg): void => (m.type === 'Scopes' ? announcer.onScopes(m) : announcer.onScopesAck(m));
  return { holds, grants, seen, table, announcer, sent, grant, revoke, up, receive };
}
type Side = ReturnType<typeof side>;

/** Deliver everything `from` has sent to `to`; returns what was delivered. */
const pump = (from: Side, to: Side): Msg[] => {
  const out = from.sent.splice(0);
  for (const m of out) to.receive(m);
  return out;
};
/** Pump both ways until quiet. */
const settle = (a: Side, b: Side): void => {
  while (a.sent.length + b.sent.length > 0) pump(a, b), pump(b, a);
};
const scopes = (m: Msg | undefined): ScopesMessage => {
  if (m?.type !== 'Scopes') throw new Error(`expected Scopes, got ${m?.type}`);
  return m;
};
const ack = (m: Msg | undefined): ScopesAckMessage => {
  if (m?.type !== 'ScopesAck') throw new Error(`expected ScopesAck, got ${m?.type}`);
  return m;
};
const entry = (n: number, i: number): [number, Uint8Array, string] => [n, id(i), nameOf(i)];

t.test('sender rule 1 and receiver rule 3 (accepted): both grant → both open → active both ways', async (t) => {
  const clock = new FakeClock();
  const a = side(clock, { grants: [1, 2] });
  const b = side(clock, { grants: [2, 1] });
  a.up();
  b.up();
  t.same(scopes(a.sent[0]).open.map(([n, s]) => [n, idx(s)]), [[0, 1], [1, 2]], 'numbers from 0 in the order of opening');
  settle(a, b);
  for (const s of [a, b]) t.same([s.table.active(id(1)), s.table.active(id(2)), s.announcer.state], [true, true, 'idle']);
  t.equal(a.table.theirNumber(id(1)), 1, "A names scope 1 by B's number for it");
  t.same([...a.seen.active], [[1, 1], [2, 0]], 'onActive with the number to use');
  t.equal(b.table.theirNumber(id(1)), 0);
  t.equal(a.table.theirNumber(id(9)), undefined, 'not active: no number');
});

t.test('sender rule 4: nothing to open, nothing sent; open is a no-op while queued, pending or open', async (t) => {
  const clock = new FakeClock();
  const a = side(clock, { holds: [1] });
  a.up();
  t.same(a.sent, [], 'no Scopes without an entry');
  t.ok(a.table.open(id(1), nameOf(1)) && a.table.open(id(1), nameOf(1)));
  a.announcer.flush();
  a.table.open(id(1), nameOf(1));
  a.announcer.flush();
  t.equal(a.sent.length, 1, 'one Scopes, stop-and-wait');
  t.equal(scopes(a.sent[0]).open.length, 1, 'opened once');
  t.equal(a.table.hasQueued, false);
});

t.test('sender rules 2 and 5: a close makes S inactive at once; a reopen gets a new number, after its close', async (t) => {
  const clock = new FakeClock();
  const a = side(clock, { grants: [1] });
  const b = side(clock, { grants: [1] });
  a.up();
  b.up();
  settle(a, b);
  t.ok(a.table.active(id(1)));
  a.revoke(1);
  t.same([a.table.active(id(1)), a.table.scopeOfMine(0), a.seen.inactive], [false, undefined, [1]], 'inactive before the close is sent');
  a.grant(1);
  a.announcer.flush();
  const m = scopes(a.sent[0]);
  t.same([m.close, m.open.map(([n]) => n)], [[0], [1]], 'close 0 and reopen as 1 in one message (closes are applied first)');
  settle(a, b);
  t.same([a.table.active(id(1)), b.table.active(id(1)), b.table.theirNumber(id(1))], [true, true, 1]);
  t.equal(b.seen.counts.scopesDropped, undefined);
  a.revoke(1);
  a.announcer.flush();
  settle(a, b);
  t.same([a.table.mine.get(1)?.state, b.table.theirs.size, b.seen.active.has(1)], ['closed', 0, false], 'closed at both');
  a.grant(1);
  a.announcer.flush();
  t.same(scopes(a.sent[0]).open.map(([n]) => n), [2], 'never reused: 0 and 1 are gone for good');
  a.table.close(id(1));
  a.table.open(id(3), nameOf(3));
  a.table.close(id(3));
  t.equal(a.table.hasQueued, true, 'the close of 2 is queued; the open of 3 was forgotten unsent');
});

t.test('Scopes split at MAX_SCOPES_OPEN / MAX_SCOPES_CLOSE, in order; a reopen never overtakes its close', async (t) => {
  const clock = new FakeClock();
  const many = Array.from({ length: 20 }, (_, i) => i);
  const a = side(clock, { grants: many });
  const b = side(clock, { grants: many });
  a.up();
  const sizes: number[] = [];
  while (a.sent.length > 0) {
    const m = scopes(a.sent[0]);
    sizes.push(m.open.length);
    pump(a, b);
    pump(b, a);
  }
  t.same(sizes, [MAX_SCOPES_OPEN, MAX_SCOPES_OPEN, 4]);
  for (const i of many) a.revoke(i);
  a.grant(17); // its close is 17th in the queue: it cannot ride in the first message
  a.announcer.flush();
  const first = scopes(a.sent[0]);
  t.same([first.close.length, first.open.length], [MAX_SCOPES_CLOSE, 0], 'the reopen waits for its close');
  pump(a, b);
  pump(b, a);
  const second = scopes(a.sent[0]);
  t.same([second.close, second.open.map(([n, s]) => [n, idx(s)])], [[16, 17, 18, 19], [[20, 17]]]);
  settle(a, b);
  t.same([...b.table.theirs.values()], [20]);
});

t.test('receiver rule 1: expected seq applied; expected − 1 answered with the same ack, not applied twice; others dropped', async (t) => {
  const clock = new FakeClock();
  const b = side(clock, { joinable: [1, 2] });
  const m0: ScopesMessage = { type: 'Scopes', seq: 0, open: [entry(0, 1)], close: [] };
  const a0 = b.table.onScopes(m0);
  t.same(a0, { type: 'ScopesAck', seq: 0, refused: [] });
  t.equal(b.table.onScopes(m0), a0, 'a repeat (our ack was lost): the same ack');
  t.same([b.seen.joins, b.table.theirs.size, b.seen.counts.scopesRepeated], [[1], 1, 1], 'applied once');
  t.equal(b.table.onScopes({ type: 'Scopes', seq: 2, open: [entry(1, 2)], close: [] }), 'drop', 'ahead of expected: dropped');
  const m1: ScopesMessage = { type: 'Scopes', seq: 1, open: [entry(1, 2)], close: [] };
  t.same(b.table.onScopes(m1), { type: 'ScopesAck', seq: 1, refused: [] });
  t.equal(b.table.onScopes(m0), 'drop', 'reordered: an old Scopes arriving late is dropped');
  t.same([b.seen.counts.scopesDropped, b.table.theirs.size], [2, 2]);
});

t.test('receiver rule 2: a close removes the peer entry, S goes inactive, our own entry is untouched', async (t) => {
  const clock = new FakeClock();
  const a = side(clock, { grants: [1] });
  const b = side(clock, { grants: [1] });
  a.up();
  b.up();
  settle(a, b);
  b.revoke(1);
  b.announcer.flush();
  settle(a, b);
  t.same([a.table.active(id(1)), a.seen.inactive, a.table.mine.get(0)?.state, a.table.theirs.size], [false, [1], 'open', 0]);
  a.receive({ type: 'Scopes', seq: 2, open: [], close: [5] });
  t.equal(a.seen.counts.closeUnknown, 1, 'a close of an unknown number is counted');
});

t.test('receiver rule 3: refusals in order — Malformed, TooManyScopes, NotAMember, ScopeDeclined', async (t) => {
  const clock = new FakeClock();
  const b = side(clock, { grants: [1], holds: [2], join: (i) => (i === 4 ? 'full' : 'declined') });
  const r0 = b.table.onScopes({ type: 'Scopes', seq: 0, open: [entry(0, 1), entry(1, 1), entry(0, 5), entry(2, 2), entry(3, 3), entry(4, 4)], close: [] });
  t.same(r0, {
    type: 'ScopesAck',
    seq: 0,
    refused: [
      [1, ReasonCode.Malformed], // scope 1 is already in theirs
      [0, ReasonCode.Malformed], // number 0 was used before
      [2, ReasonCode.NotAMember], // held, not granted to this peer
      [3, ReasonCode.ScopeDeclined], // not held, the join policy declines
      [4, ReasonCode.TooManyScopes], // not held, no room for another hosted scope
    ],
  });
  b.table.onScopes({ type: 'Scopes', seq: 1, open: [], close: [0] });
  const r2 = b.table.onScopes({ type: 'Scopes', seq: 2, open: [entry(0, 1), entry(3, 3), entry(9, 1)], close: [] });
  t.same(ack(typeof r2 === 'string' ? undefined : r2).refused, [[0, ReasonCode.Malformed], [3, ReasonCode.Malformed]], 'closed or refused, a number stays used');
  t.same([...b.table.theirs.values()], [9], 'after the close, scope 1 can come back under a fresh number');
  const r3 = b.table.onScopes({ type: 'Scopes', seq: 3, open: [[10, new Uint8Array(31), 'x'], [11, id(6), 'Bad Name']], close: [] });
  t.same(typeof r3 !== 'string' && r3.refused, [[10, ReasonCode.Malformed], [11, ReasonCode.Malformed]], 'bad shapes the schema lets through never become state');
});

t.test('receiver rule 3: TooManyScopes at MAX_LINK_SCOPES peer entries', async (t) => {
  const clock = new FakeClock();
  const all = Array.from({ length: MAX_LINK_SCOPES + 1 }, (_, i) => i);
  const b = side(clock, { grants: all });
  // The schema bounds a real message to 8 entries; the table does not care, which keeps this short.
  const r = b.table.onScopes({ type: 'Scopes', seq: 0, open: all.map((i) => entry(i, i)), close: [] });
  t.same(typeof r !== 'string' && r.refused, [[MAX_LINK_SCOPES, ReasonCode.TooManyScopes]]);
  t.equal(b.table.theirs.size, MAX_LINK_SCOPES);
});

t.test('receiver rule 3 (join): a joined scope is opened back and becomes active', async (t) => {
  const clock = new FakeClock();
  const gw = side(clock, { grants: [7] });
  const dev = side(clock, { joinable: [7] });
  gw.up();
  dev.up();
  t.same(dev.sent, [], 'the device holds nothing: it sends no Scopes');
  pump(gw, dev);
  t.same(dev.seen.joins, [7]);
  t.same(dev.sent.map((m) => m.type), ['ScopesAck', 'Scopes'], 'acked, then opened back at once');
  settle(gw, dev);
  t.same([gw.table.active(id(7)), dev.table.active(id(7)), dev.table.theirNumber(id(7)), gw.table.theirNumber(id(7))], [true, true, 0, 0]);
});

t.test('receiver rule 4: the ack marks entries open or refused (reason logged); an ack for another seq is dropped', async (t) => {
  const clock = new FakeClock();
  const a = side(clock, { grants: [1, 2] });
  const b = side(clock, { holds: [2] });
  a.up();
  t.equal(a.table.onScopesAck({ type: 'ScopesAck', seq: 5, refused: [] }), false);
  t.equal(a.seen.counts.scopesAckDropped, 1);
  settle(a, b);
  t.same([a.table.mine.get(0)?.state, a.table.mine.get(1)?.state], ['refused', 'refused']);
  t.same(a.seen.refused, [[1, 'ScopeDeclined'], [2, 'NotAMember']]);
  t.equal(a.seen.counts.scopeRefused, 2);
  // B's view converges (scope 2 is granted now): B opens it, A accepts and reopens its refused entry.
  b.grant(2);
  b.announcer.flush();
  settle(a, b);
  t.same([a.table.active(id(2)), b.table.active(id(2)), b.table.theirNumber(id(2))], [true, true, 2], 'reopened as number 2');
});

t.test('receiver rule 4: a refusal overtaken by the peer’s open (its ack lost, then repeated) is answered by one reopen', async (t) => {
  const clock = new FakeClock();
  const a = side(clock, { holds: [1] });
  const b = side(clock, { grants: [1] });
  a.up();
  b.up();
  pump(b, a);
  t.same(ack(a.sent[0]).refused, [[0, ReasonCode.NotAMember]], 'A does not grant scope 1 yet');
  a.sent.splice(0); // that ack is lost
  a.grant(1); // A's view changed: A opens scope 1
  a.announcer.flush();
  pump(a, b); // B accepts A's entry while its own is still pending
  pump(b, a);
  clock.advance(500); // B retransmits; A repeats the old refusal
  pump(b, a);
  pump(a, b);
  t.same(b.seen.refused, [[1, 'NotAMember']]);
  t.same(scopes(b.sent.find((m) => m.type === 'Scopes')).open.map(([n]) => n), [1], 'B reopens scope 1 as its number 1');
  settle(a, b);
  t.same([a.table.active(id(1)), b.table.active(id(1)), a.table.theirNumber(id(1))], [true, true, 1]);
});

t.test('rule 5: a scoped message naming a pending number is routed; a closed or unknown one is not', async (t) => {
  const clock = new FakeClock();
  const a = side(clock, { grants: [1] });
  const b = side(clock, { grants: [1] });
  a.up();
  b.up();
  pump(a, b); // B has A's entry, and B's ack to A gets lost
  b.sent.splice(b.sent.findIndex((m) => m.type === 'ScopesAck'), 1);
  pump(b, a); // A accepts B's open: A's theirs holds S, A's own entry still pending
  pump(a, b); // A's ack of B's entry: S is active at B
  t.equal(a.table.mine.get(0)?.state, 'pending');
  t.equal(a.table.active(id(1)), false, 'not active at A: A sends nothing scoped yet');
  t.ok(b.table.active(id(1)), 'active at B (its entry is acked): B polls, naming A’s 0');
  t.same(a.table.scopeOfMine(0), id(1), "B's poll naming A's pending 0 is routed to scope 1");
  t.equal(a.table.scopeOfMine(7), undefined, 'an unknown number: UnknownScope');
  clock.advance(500); // A retransmits, B repeats its ack
  settle(a, b);
  t.ok(a.table.active(id(1)));
});

t.test('announcer: lost Scopes retransmitted at 500 ms doubling to 8 s; lost ack → same ack; 60 s gives up', async (t) => {
  const clock = new FakeClock();
  const a = side(clock, { grants: [1] });
  const b = side(clock, { grants: [1] });
  a.up();
  const first = a.sent[0];
  const times: number[] = [];
  let last = 0;
  for (let i = 0; i < 8; i++) {
    clock.advance(clock.untilNext() ?? 0);
    times.push(clock.now - last);
    last = clock.now;
  }
  t.same(times, [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000], 'retransmission gaps');
  t.ok(a.sent.every((m) => m === first), 'the same message each time');
  t.equal(a.announcer.retransmits, 8);
  a.sent.splice(1);
  pump(a, b);
  const bAck = b.sent.shift(); // the ack is lost
  clock.advance(clock.untilNext() ?? 0);
  pump(a, b);
  t.equal(b.sent[0], bAck, 'the duplicate Scopes gets the same ack again');
  t.equal(b.table.theirs.size, 1, 'applied once');
  pump(b, a);
  t.equal(a.announcer.state, 'idle');
  clock.advance(120_000);
  t.same([a.sent.length, a.seen.closed], [0, []], 'acked: no more resends, no give-up');

  const c = side(clock, { grants: [1] });
  c.up();
  clock.advance(59_999);
  t.same(c.seen.closed, [], 'not yet');
  clock.advance(1);
  t.equal(c.seen.closed.length, 1, '60 s unacknowledged: the link is closed');
  t.equal(c.announcer.state, 'stopped');
  const n = c.sent.length;
  clock.advance(60_000);
  c.table.open(id(2), nameOf(2));
  c.announcer.flush();
  t.equal(c.sent.length, n, 'stopped: nothing more is sent');
});

t.test('announcer: the next Scopes only after the ack', async (t) => {
  const clock = new FakeClock();
  const a = side(clock, { grants: [1], holds: [2] });
  const b = side(clock, { grants: [1, 2] });
  a.up();
  a.grant(2);
  a.announcer.flush();
  t.equal(a.sent.length, 1, 'scope 2 waits');
  pump(a, b);
  pump(b, a);
  t.same(scopes(a.sent[0]).open.map(([n, s]) => [n, idx(s), scopes(a.sent[0]).seq]), [[1, 2, 1]], 'sent once the ack arrived, seq 1');
  a.announcer.stop();
  clock.advance(10_000);
  t.equal(a.sent.length, 1, 'stopped: no retransmission');
});

// The property: whatever the opens, closes, losses, duplicates and reorderings, once the channel
// is reliable again both tables settle on exactly the scopes both sides grant.
const N = 4;
type Action = { k: 'grant' | 'revoke'; side: 0 | 1; s: number } | { k: 'deliver' | 'drop' | 'dup'; i: number } | { k: 'tick'; ms: number };
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constantFrom('grant' as const, 'revoke' as const), side: fc.constantFrom(0 as const, 1 as const), s: fc.integer({ min: 0, max: N - 1 }) }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constant('deliver' as const), i: fc.nat() }), weight: 6 },
  { arbitrary: fc.record({ k: fc.constantFrom('drop' as const, 'dup' as const), i: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 600 }) }), weight: 2 },
);
// Per scope: who holds it (0 A, 1 B, 2 both), whether each holder grants it at link-up, whether a non-holder joins it.
const scopeArb = fc.record({ holder: fc.integer({ min: 0, max: 2 }), grantA: fc.boolean(), grantB: fc.boolean(), joins: fc.boolean() });

t.test('property: two tables over a lossy, duplicating, reordering channel converge to the scopes both grant', async (t) => {
  fc.assert(
    fc.property(fc.array(scopeArb, { minLength: N, maxLength: N }), fc.array(actionArb, { maxLength: 60 }), (cfg, actions) => {
      const clock = new FakeClock();
      const opts = (me: 0 | 1) => {
        const holds = cfg.flatMap((c, i) => (c.holder === me || c.holder === 2 ? [i] : []));
        const grants = holds.filter((i) => (me === 0 ? cfg[i]!.grantA : cfg[i]!.grantB));
        const joinable = cfg.flatMap((c, i) => (c.holder !== me && c.holder !== 2 && c.joins ? [i] : []));
        return { holds, grants, joinable };
      };
      const sides = [side(clock, opts(0)), side(clock, opts(1))] as const;
      const wire: { to: 0 | 1; m: Msg }[] = [];
      const collect = (): void => {
        for (const from of [0, 1] as const) for (const m of sides[from].sent.splice(0)) wire.push({ to: from === 0 ? 1 : 0, m });
      };
      const deliver = (i: number): void => {
        const [w] = wire.splice(i, 1);
        if (w !== undefined) sides[w.to].receive(w.m);
        collect();
      };
      sides[0].up();
      sides[1].up();
      collect();
      for (const a of actions) {
        if ('side' in a) {
          sides[a.side][a.k](a.s);
          sides[a.side].announcer.flush();
          collect();
        } else if (a.k === 'tick') {
          clock.advance(a.ms);
          collect();
        } else if ('i' in a && wire.length > 0) {
          const i = a.i % wire.length;
          if (a.k === 'deliver') deliver(i);
          else if (a.k === 'drop') wire.splice(i, 1);
          else wire.push(wire[i]!);
        }
      }
      // Reliable from here: deliver in order, and let retransmissions replace what was lost.
      for (let guard = 0; guard < 10_000; guard++) {
        if (wire.length > 0) deliver(0);
        else if (sides.some((s) => s.announcer.state === 'waiting')) clock.advance(clock.untilNext() ?? 0), collect();
        else break;
      }
      for (const [me, s] of sides.entries()) {
        const peer = sides[me === 0 ? 1 : 0];
        if (s.seen.closed.length > 0 || s.announcer.state !== 'idle' || s.table.hasQueued) return false;
        for (let i = 0; i < N; i++) {
          const want = s.grants.has(i) && peer.grants.has(i);
          if (s.table.active(id(i)) !== want || s.seen.active.has(i) !== want) return false;
          if (want && s.table.theirNumber(id(i)) !== [...peer.table.mine].find(([, e]) => idx(e.scopeId) === i && e.state === 'open')?.[0]) return false;
          if (want && s.seen.active.get(i) !== s.table.theirNumber(id(i))) return false;
          // A joinable scope the peer still grants was joined.
          if (opts(me as 0 | 1).joinable.includes(i) && peer.grants.has(i) && !s.holds.has(i)) return false;
        }
      }
      return true;
    }),
    { numRuns: Number(process.env.SCOPE_RUNS ?? 300) },
  );
  t.pass('converged');
});
