/**
 * agent/sync/push-pass.ts with a fake host (a memory store, a subscription table and recording
 * sessions): dirty subscribers get every pending command once, in causal order, over as many
 * passes as it takes; a big graph is spread over passes by the walk step and pass byte bounds; a
 * blocked session keeps its work; commands added mid-way are found by the next walk; a budget
 * that runs out ends the subscription with BudgetExhausted; skips are honoured.
 */
import t from 'tap';
import { decodeMessage } from '../protocol/envelope.js';
import { toHex } from '../protocol/keys.js';
import type { ReasonName } from '../protocol/errors.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { deepestFirst, missingFor } from '../agent/sync/graph-walk.js';
import type { PeerSession } from '../agent/sync/peer-session.js';
import { PushPass, PUSH_WALK_STEPS } from '../agent/sync/push-pass.js';
import { MAX_KNOWN, SubscriptionTable } from '../agent/sync/subscription-table.js';
import { randomDag, syntheticCommand } from '../testkit/synthetic-commands.js';

/** The members of a session a push pass uses, recording what it is given. */
class FakeSession {
  blocked = false;
  readonly sendLimit = 65536;
  readonly acceptsBare = false;
  readonly stats = { pushedCommands: 0 };
  readonly frames: Uint8Array[] = [];
  readonly errors: ReasonName[] = [];
  sendFrame(f: Uint8Array): void {
    this.frames.push(f);
  }
  sendError(reason: ReasonName): void {
    this.errors.push(reason);
  }
  /** Hex of every command pushed so far, in order. */
  commands(): string[] {
    return this.frames.flatMap((f) => {
      const m = decodeMessage(f);
      return m.type === 'Push' ? m.commands.map(toHex) : [];
    });
  }
}

function world(n: number, seed = 1, budget = 1 << 30) {
  const store = new MemoryStore();
  for (const c of randomDag(n, seed)) store.append(c);
  const table = new SubscriptionTable(8);
  const sessions = new Map<string, FakeSession>();
  const skipped = new Set<number>();
  const pass = new PushPass({
    store,
    table,
    // A fake with only the members PushPass reads; the cast is the test seam, not a contract.
    sessions: sessions as unknown as ReadonlyMap<string, PeerSession>,
    skip: (_slot, _peer, h) => skipped.has(h),
    sent: () => {},
  });
  const subscribe = (peer: string, remaining = budget): FakeSession => {
    const s = new FakeSession();
    sessions.set(peer, s);
    const slot = table.upsert(peer, Date.now() + 3_600_000, remaining);
    table.markDirty(slot);
    return s;
  };
  /** Run passes until none is left; returns how many ran. */
  const drain = (max = 10_000): number => {
    let n = 1;
    while (pass.run() && n < max) n++;
    return n;
  };
  return { store, table, pass, subscribe, drain, skipped };
}

const all = (store: MemoryStore): string[] => missingFor(store, []).map((h) => toHex(store.bytesOf(h)));

t.test('every pending command once, in causal order, to each dirty subscriber; then clean', async (t) => {
  const w = world(300, 3);
  const a = w.subscribe('a');
  const b = w.subscribe('b');
  w.drain();
  t.same(a.commands(), all(w.store));
  t.same(b.commands(), all(w.store));
  t.same([a.stats.pushedCommands, a.errors], [300, []]);
  t.notOk(w.table.isDirty(w.table.find('a')), 'clean afterwards');
  t.same(w.table.knownOf(w.table.find('a')), deepestFirst(w.store, w.store.heads(), MAX_KNOWN), 'its known heads: the deepest heads of the graph');
  const sent = a.frames.length;
  t.notOk(w.pass.run(), 'nothing left: a pass does nothing');
  t.equal(a.frames.length, sent);
});

t.test('a graph bigger than one walk step is spread over passes and still arrives whole', async (t) => {
  const n = 3 * PUSH_WALK_STEPS + 100;
  const w = world(n, 5);
  const s = w.subscribe('big');
  t.ok(w.pass.run(), 'the first pass leaves work');
  t.same(s.frames, [], 'nothing sent before the walk is done');
  const passes = w.drain() + 1;
  t.ok(passes >= 4, `${passes} passes`);
  t.same(s.commands(), all(w.store));
});

t.test('a blocked session keeps its work for a later pass', async (t) => {
  const w = world(50, 7);
  const s = w.subscribe('slow');
  s.blocked = true;
  t.notOk(w.pass.run(), 'a blocked subscriber is not counted as work left (drain retries it)');
  t.same(s.frames, []);
  t.ok(w.table.isDirty(w.table.find('slow')), 'still dirty');
  s.blocked = false;
  w.drain();
  t.same(s.commands(), all(w.store));
});

t.test('commands added while a subscriber is being served are found by the next walk', async (t) => {
  const w = world(3 * PUSH_WALK_STEPS, 9);
  const s = w.subscribe('p');
  w.pass.run(); // the walk has started from the heads of the moment
  const head = w.store.idOf(w.store.heads()[0]!);
  const late = syntheticCommand([Uint8Array.from(head)], 999_999, Uint8Array.of(1));
  w.store.append(late);
  w.drain();
  t.same(s.commands(), all(w.store), 'the late command too, after its parents');
  t.equal(s.commands().filter((c) => c === toHex(late.bytes)).length, 1, 'once');
});

t.test('a budget that runs out: BudgetExhausted and the subscription removed', async (t) => {
  const w = world(100, 11, 5000);
  const s = w.subscribe('poor');
  w.drain();
  t.same(s.errors, ['BudgetExhausted']);
  t.equal(w.table.find('poor'), -1, 'slot removed');
  t.ok(s.commands().length > 0 && s.commands().length < 100, `${s.commands().length} commands fitted`);
  t.same(s.commands(), all(w.store).slice(0, s.commands().length), 'a prefix, in order');
});

t.test('skipped commands are not pushed; forget restarts a subscriber from its known heads', async (t) => {
  const w = world(60, 13);
  for (let h = 0; h < 60; h += 2) w.skipped.add(h);
  const s = w.subscribe('p');
  w.drain();
  t.same(s.commands(), missingFor(w.store, []).filter((h) => h % 2 === 1).map((h) => toHex(w.store.bytesOf(h))));
  const slot = w.table.find('p');
  w.table.setKnown(slot, []);
  w.table.markDirty(slot);
  w.pass.forget('p');
  w.skipped.clear();
  const before = s.commands().length;
  w.drain();
  t.equal(s.commands().length - before, 60, 'everything again from empty known heads');
});

t.test('regression: more heads than MAX_KNOWN are not pushed twice (the known floor)', async (t) => {
  const w = world(0, 1);
  const tips: Uint8Array[] = [];
  for (let k = 0; k < 12; k++) {
    const root = syntheticCommand([], 1, Uint8Array.of(k));
    const tip = syntheticCommand([root.id], 2, Uint8Array.of(k, 1));
    w.store.append(root);
    w.store.append(tip);
    tips.push(tip.id);
  }
  const s = w.subscribe('p');
  w.drain();
  t.equal(s.commands().length, 24, 'everything once');
  w.store.append(syntheticCommand([tips[0]!], 3, Uint8Array.of(99)));
  w.table.markDirty(w.table.find('p'));
  w.drain();
  t.equal(s.commands().length, 25, 'then only the new command (was 29: two forgotten chains again)');
});
