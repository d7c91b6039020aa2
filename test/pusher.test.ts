/**
 * agent/sync/pusher.ts with fake sessions and a fake clock: Subscribe granted (remain_open
 * clamped) or refused for room with a retry hint, suspended slots freed first, expiry reaped by a
 * pass, commands not pushed back to their origin nor to a subscriber that has it via another
 * peer, push latency observed per command sent, and the budget a subscription has left.
 */
import t from 'tap';
import { decodeMessage } from '../protocol/envelope.js';
import { fromHex, toHex } from '../protocol/keys.js';
import type { ReasonName } from '../protocol/errors.js';
import type { Subscribe } from '../protocol/messages.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import type { PushTarget } from '../agent/sync/push-pass.js';
import { Pusher } from '../agent/sync/pusher.js';
import { SUSPEND_MS } from '../agent/sync/subscription-table.js';
import { syntheticCommand } from '../testkit/synthetic-commands.js';
import { until } from '../testkit/wait.js';

class FakeTarget implements PushTarget {
  blocked = false;
  readonly sendLimit = 65536;
  readonly acceptsBare = false;
  readonly stats = { pushedCommands: 0 };
  readonly pushed: string[] = [];
  readonly errors: ReasonName[] = [];
  sendFrame(body: Uint8Array): void {
    const m = decodeMessage(body);
    if (m.type === 'Push') this.pushed.push(...m.commands.map(toHex));
  }
  sendError(reason: ReasonName): void {
    this.errors.push(reason);
  }
}

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const C = 'cccccccccccccccc';

function rig(capacity = 2) {
  let clock = 1_000_000;
  const store = new MemoryStore();
  const sessions = new Map<string, FakeTarget>();
  const pusher = new Pusher({ store, sessions, capacity, maxRemainOpenS: 900, now: () => clock });
  const sub = (remainOpen = 600, via: string[] = [], maxBytes = 1 << 20): Subscribe => ({ type: 'Subscribe', remain_open: remainOpen, max_bytes: maxBytes, sample: [], via: via.map(fromHex) });
  const join = (peer: string): FakeTarget => {
    const s = new FakeTarget();
    sessions.set(peer, s);
    return s;
  };
  const add = (from: string, n = 1): number[] => {
    const hs: number[] = [];
    for (let i = 0; i < n; i++) {
      const heads = store.heads().map((h) => Uint8Array.from(store.idOf(h)));
      hs.push(store.append(syntheticCommand(heads, store.size + 1, Uint8Array.of(store.size))));
    }
    pusher.added(hs, from);
    return hs;
  };
  const hex = (h: number): string => toHex(store.bytesOf(h));
  return { pusher, store, sessions, sub, join, add, hex, tick: (ms: number) => (clock += ms), t: () => clock };
}

t.test('granted with remain_open clamped; refused for room with a retry hint; suspended slots go first', async (t) => {
  const r = rig(2);
  t.teardown(() => r.pusher.close());
  t.same(r.pusher.subscribe(A, r.sub(5000)), { granted: true, remainOpenS: 900 }, 'clamped to maxRemainOpenS');
  t.same(r.pusher.subscribe(B, r.sub(60)), { granted: true, remainOpenS: 60 });
  const refused = r.pusher.subscribe(C, r.sub());
  t.same(refused, { granted: false, retryAfterMs: 60_000, capacity: 2 }, 'full: retry when the earliest slot closes');
  r.pusher.suspend(A);
  t.same(r.pusher.subscribe(C, r.sub()).granted, true, "A's suspended slot is freed for C");
  t.same([r.pusher.holds(A), r.pusher.holds(C), r.pusher.usage], [false, true, { used: 2, capacity: 2 }]);
  t.equal(r.pusher.budgetOf(C), 1 << 20);
  t.equal(r.pusher.budgetOf(A), null, 'no slot, no budget');
});

t.test('a pass pushes new commands to every subscriber but the one they came from, and not via another upstream', async (t) => {
  const r = rig(4);
  t.teardown(() => r.pusher.close());
  const [a, b, c] = [r.join(A), r.join(B), r.join(C)];
  r.pusher.subscribe(A, r.sub());
  r.pusher.subscribe(B, r.sub());
  r.pusher.subscribe(C, r.sub(600, [B])); // C also receives B's pushes
  t.equal(r.pusher.usage.used, 3, 'three subscribers');
  const [fromB] = r.add(B);
  const [own] = r.add('self');
  await until(() => a.pushed.length === 2 && c.pushed.length === 1 && b.pushed.length === 1, 5000, 'the pushes');
  t.same(a.pushed, [r.hex(fromB!), r.hex(own!)], 'A gets both');
  t.same(b.pushed, [r.hex(own!)], 'B does not get its own command back');
  t.same(c.pushed, [r.hex(own!)], 'C does not get what it has via B');
  t.equal(r.pusher.originOf(fromB!), B);
  t.ok(r.pusher.latency.count >= 4, `push latency observed per command sent (${r.pusher.latency.count})`);
  t.ok(r.pusher.budgetOf(A)! < 1 << 20, 'the pushes were charged');
});

t.test('expiry and the suspension grace are reaped by a pass; unsubscribe frees at once', async (t) => {
  const r = rig(4);
  t.teardown(() => r.pusher.close());
  r.pusher.subscribe(A, r.sub(10));
  r.pusher.subscribe(B, r.sub());
  r.pusher.subscribe(C, r.sub());
  r.pusher.suspend(B);
  r.pusher.unsubscribe(C);
  t.same([r.pusher.holds(C), r.pusher.usage.used], [false, 2], 'Unsubscribe frees the slot');
  r.tick(10_000);
  r.pusher.flush();
  t.same([r.pusher.holds(A), r.pusher.holds(B)], [false, true], "A's 10 s are over; B is suspended less than the grace");
  r.tick(SUSPEND_MS);
  r.pusher.flush();
  t.equal(r.pusher.usage.used, 0, "B's grace is over");
});

t.test('a resumed subscription is pushed what it missed while it had no link', async (t) => {
  const r = rig(2);
  t.teardown(() => r.pusher.close());
  r.pusher.subscribe(A, r.sub());
  r.pusher.suspend(A);
  const missed = r.add('self', 3);
  await new Promise((res) => setImmediate(res));
  const a = r.join(A);
  r.pusher.resume(A);
  await until(() => a.pushed.length === 3, 5000, 'the missed commands');
  t.same(a.pushed, missed.map(r.hex));
});
