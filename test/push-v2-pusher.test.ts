/**
 * agent/sync/pusher-v2.ts and push-frames-v2.ts over real scope stores (an EngineV2 with no
 * links) and fake subscriber links: what follows the known heads is pushed once, in causal order,
 * under the subscriber's number; exact budgets (trimmed push with `exhausted`, then
 * `Error{BudgetExhausted, scope}`, the slot gone); bare pushes to a `BareCommand` peer; nothing
 * pushed back to its origin or a `via` peer; a subscriber of S gets nothing of T; suspension on
 * link close and resumption on the same key's next link; 128 (peer, scope) subscriptions granted,
 * the 129th refused with a retry hint; and a fast-check property of the frame planner's budgets.
 */
import fc from 'fast-check';
import t from 'tap';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { PusherV2, type PushLinkV2 } from '../agent/sync/pusher-v2.js';
import { pushStepV2 } from '../agent/sync/push-frames-v2.js';
import { SUSPEND_MS } from '../agent/sync/subscription-table-v2.js';
import { isBarePushV2 } from '../protocol/bare-push-v2.js';
import { encodeCbor } from '../protocol/cbor.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import type { Push, Subscribe } from '../protocol/messages-v2.js';

/** Run passes until none is left: a pass yields after TURN_BUDGET_MS, which a loaded machine can reach mid-test. */
function drain(p: PusherV2): void {
  for (let i = 0; i < 100 && p.flush(); i++);
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

interface FakeLink extends PushLinkV2 {
  frames: Uint8Array[];
  errors: Array<{ reason: string; scope: number | undefined }>;
  pushes(): Push[];
}

let ids = 1000;
function fakeLink(peer: number, numbers: Map<string, number>, bare = false): FakeLink {
  const frames: Uint8Array[] = [];
  const errors: FakeLink['errors'] = [];
  return {
    linkId: ids++, peerId: `00000000000000${peer.toString(16).padStart(2, '0')}`, fingerprint: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, peer]),
    blocked: false, sendLimit: 65536, acceptsBare: bare, acceptsBatch: false, frames, errors,
    theirNumber: (id) => numbers.get(toHex(id)),
    sendFrame: (b) => void frames.push(b),
    sendError: (reason, _t, _r, scope) => void errors.push({ reason, scope }),
    pushed: () => undefined,
    pushes: () => frames.map((f) => decodeMessageV2(f) as Push),
  };
}

async function rig(t: { teardown(fn: () => unknown): void }, capacity = 128) {
  const me = generateIdentity();
  const e = await EngineV2.open({ identity: me, scopes: { max: Infinity } });
  t.teardown(() => e.close());
  const members = [{ publicKey: me.publicKey, roles: Role.Read | Role.Write | Role.Admin }];
  const S = await e.createScope({ name: 'team/s', members });
  const T = await e.createScope({ name: 'team/t', members });
  let now = 1_000_000;
  const pusher = new PusherV2({ capacity, maxRemainOpenS: 900, now: () => now, storeOf: (id) => [S, T].find((h) => toHex(h.id) === toHex(id))?.store });
  t.teardown(() => pusher.close());
  const commit = async (h: typeof S, payload: string, from = 'local'): Promise<Uint8Array> => {
    const id = await e.commit(h.name, text(payload));
    pusher.appended(toHex(h.id), [h.store.indexOf(id)], from);
    return id;
  };
  const sub = (h: typeof S, o: Partial<Subscribe> = {}): Subscribe => ({
    type: 'Subscribe', scope: 0, remain_open: 600, max_bytes: 1 << 20, sample: h.store.heads().map((x) => h.store.idOf(x).slice()), via: [], ...o,
  });
  return { e, S, T, pusher, commit, sub, clock: { advance: (ms: number) => (now += ms) } };
}

t.test('what follows the known heads is pushed once, in causal order, under the subscriber\'s number', async (t) => {
  const { S, pusher, commit, sub } = await rig(t);
  const link = fakeLink(1, new Map([[toHex(S.id), 7]]));
  pusher.linkUp(link);
  t.same(pusher.subscribe(link, S.id, sub(S)), { granted: true, remainOpenS: 600, maxBytes: 1 << 20 });
  drain(pusher);
  t.equal(link.frames.length, 0, 'nothing after the known heads yet');
  const c = [await commit(S, 'one'), await commit(S, 'two'), await commit(S, 'three')];
  drain(pusher);
  const pushes = link.pushes();
  t.equal(pushes.length, 1, 'coalesced into one Push');
  t.equal(pushes[0]!.scope, 7, 'named by the subscriber\'s number');
  t.same(pushes[0]!.commands.map((b) => toHex(b)), c.map((id) => toHex(S.store.bytesOf(S.store.indexOf(id)))), 'causal order');
  const used = link.frames[0]!.length;
  const truth = (1 << 20) - used;
  t.ok(pushes[0]!.remaining! <= truth && pushes[0]!.remaining! >= truth - 4, '`remaining` never more than the truth, at most 4 less');
  t.equal(pusher.table.remainingOf(pusher.slotOf(link.fingerprint, S.id)), truth, 'the budget fell by the encoded length');
  drain(pusher);
  t.equal(link.frames.length, 1, 'known heads advanced: nothing sent twice');
  t.same(pusher.subscribe(link, S.id, sub(S, { remain_open: 5000 })), { granted: true, remainOpenS: 900, maxBytes: 1 << 20 }, 'remain_open clamped to 900 s');
});

t.test('exact budgets: a trimmed push says exhausted, then BudgetExhausted, and the slot is gone', async (t) => {
  const { S, pusher, commit, sub } = await rig(t);
  const link = fakeLink(2, new Map([[toHex(S.id), 3]]));
  pusher.linkUp(link);
  pusher.subscribe(link, S.id, sub(S, { max_bytes: 400 }));
  for (let i = 0; i < 5; i++) await commit(S, `command ${i} `.padEnd(60, 'x'));
  drain(pusher);
  const total = link.frames.reduce((n, f) => n + f.length, 0);
  t.ok(total <= 400, `pushes total ${total} bytes, within the 400 granted`);
  const last = link.pushes().at(-1)!;
  t.ok(last.exhausted && last.commands.length >= 1, 'the last push is trimmed, exhausted, with at least one command');
  t.same(link.errors, [{ reason: 'BudgetExhausted', scope: 3 }], 'then Error{BudgetExhausted, scope}');
  t.equal(pusher.slotOf(link.fingerprint, S.id), -1, 'the subscription is removed');
});

t.test('a single command to a BareCommand peer goes bare; its body is charged', async (t) => {
  const { S, pusher, commit, sub } = await rig(t);
  const link = fakeLink(3, new Map([[toHex(S.id), 300]]), true);
  pusher.linkUp(link);
  pusher.subscribe(link, S.id, sub(S, { max_bytes: 10_000 }));
  const id = await commit(S, 'bare');
  drain(pusher);
  t.equal(link.frames.length, 1);
  const body = link.frames[0]!;
  t.ok(isBarePushV2(body), 'a bare push');
  const cmd = S.store.bytesOf(S.store.indexOf(id));
  t.equal(body.length, cmd.length + 3, 'the command and the 3-byte number 300');
  t.same(decodeMessageV2(body), { type: 'Push', scope: 300, remaining: null, exhausted: false, commands: [cmd] });
  t.equal(pusher.table.remainingOf(pusher.slotOf(link.fingerprint, S.id)), 10_000 - body.length);
});

t.test('nothing is pushed back to its origin or to a subscriber whose via names it; S\'s subscriber gets nothing of T', async (t) => {
  const { S, T, pusher, commit, sub } = await rig(t);
  const numbers = new Map([[toHex(S.id), 0], [toHex(T.id), 1]]);
  const a = fakeLink(4, numbers);
  const b = fakeLink(5, numbers);
  pusher.linkUp(a);
  pusher.linkUp(b);
  pusher.subscribe(a, S.id, sub(S));
  pusher.subscribe(b, S.id, sub(S, { via: [a.fingerprint] }));
  await commit(S, 'from a', a.peerId);
  await commit(T, 'in T');
  drain(pusher);
  t.equal(a.frames.length, 0, 'not pushed back to its sender');
  t.equal(b.frames.length, 0, 'not pushed to a subscriber that also gets it from a');
  const local = await commit(S, 'local');
  drain(pusher);
  for (const l of [a, b]) {
    t.same(l.pushes().map((p) => p.scope), [0], 'only S\'s number');
    t.same(l.pushes()[0]!.commands.map(toHex), [toHex(S.store.bytesOf(S.store.indexOf(local)))], 'only the local command');
  }
});

t.test('suspension on link close, resumption by the same key, reaped after 60 s', async (t) => {
  const { S, pusher, commit, sub, clock } = await rig(t);
  const numbers = new Map([[toHex(S.id), 0]]);
  const first = fakeLink(6, numbers);
  pusher.linkUp(first);
  pusher.subscribe(first, S.id, sub(S, { max_bytes: 5000 }));
  await commit(S, 'seen');
  drain(pusher);
  const slot = pusher.slotOf(first.fingerprint, S.id);
  const budget = pusher.table.remainingOf(slot);
  pusher.linkDown(first);
  t.ok(pusher.table.isSuspended(slot), 'suspended with its link');
  const missed = await commit(S, 'while down');
  drain(pusher);
  t.equal(first.frames.length, 1, 'nothing to a closed link');
  clock.advance(SUSPEND_MS - 1000);
  const again = { ...fakeLink(6, numbers), linkId: ids++ };
  pusher.linkUp(again);
  pusher.scopeActive(again, S.id);
  t.equal(pusher.slotOf(again.fingerprint, S.id), slot, 'the same slot');
  t.equal(pusher.table.linkAt(slot), again.linkId, 'bound to the new link');
  drain(pusher);
  t.same(again.pushes().flatMap((p) => p.commands.map(toHex)), [toHex(S.store.bytesOf(S.store.indexOf(missed)))], 'known heads as they were: exactly what it missed');
  t.equal(pusher.table.remainingOf(slot), budget - again.frames[0]!.length, 'budget as it was, less that push');
  pusher.linkDown(again);
  clock.advance(SUSPEND_MS);
  drain(pusher);
  t.equal(pusher.slotOf(again.fingerprint, S.id), -1, 'reaped 60 s after its link closed');
  const third = { ...fakeLink(6, numbers), linkId: ids++ };
  pusher.linkUp(third);
  pusher.scopeActive(third, S.id);
  t.equal(pusher.slotOf(third.fingerprint, S.id), -1, 'nothing to resume');
});

t.test('S inactive on the link removes the slot at once; Unsubscribe too', async (t) => {
  const { S, T, pusher, sub } = await rig(t);
  const link = fakeLink(7, new Map([[toHex(S.id), 0], [toHex(T.id), 1]]));
  pusher.linkUp(link);
  pusher.subscribe(link, S.id, sub(S));
  pusher.subscribe(link, T.id, sub(T));
  pusher.scopeInactive(link, S.id);
  t.equal(pusher.slotOf(link.fingerprint, S.id), -1, 'S closed: gone, no suspension');
  pusher.unsubscribe(link, T.id);
  t.equal(pusher.table.size, 0, 'T unsubscribed');
  pusher.unsubscribe(link, T.id);
  t.pass('a second Unsubscribe is a no-op');
});

t.test('128 (peer, scope) subscriptions are granted; the 129th is refused with a retry hint', async (t) => {
  const { S, T, pusher, sub, clock } = await rig(t);
  const numbers = new Map([[toHex(S.id), 0], [toHex(T.id), 1]]);
  const links = Array.from({ length: 65 }, (_, i) => fakeLink(i + 16, numbers));
  for (const l of links) pusher.linkUp(l);
  let granted = 0;
  for (const l of links) for (const h of [S, T]) if (granted < 128 && pusher.subscribe(l, h.id, sub(h, { remain_open: 60 })).granted) granted++;
  t.equal(granted, 128, '64 peers × 2 scopes');
  clock.advance(10_000);
  const r = pusher.subscribe(links[64]!, S.id, sub(S));
  t.same(r, { granted: false, retryAfterMs: 50_000, capacity: 128 }, 'refused: retry when the earliest slot closes');
  pusher.linkDown(links[0]!);
  t.ok(pusher.subscribe(links[64]!, S.id, sub(S)).granted, 'a suspended slot is freed for it');
});

t.test('property: pushes never exceed the budget or the frame, exhausted pushes carry a command, remaining within 4', async () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 940 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1536, max: 8192 }), fc.boolean(), fc.nat(70_000), (lens, budget, frame, bare, scope) => {
      // Command-shaped CBOR (a bare push must decode): parents, author, seq, kind, payload, signature.
      const cmds = lens.map((n) => encodeCbor([[], new Uint8Array(8), 0, 2, new Uint8Array(n), new Uint8Array(64)]));
      const src = { idOf: () => new Uint8Array(32), lengthOf: (h: number) => cmds[h]!.length, bytesOf: (h: number) => cmds[h]! };
      const step = pushStepV2(src, cmds.map((_, i) => i), 0, { scope, budget, frameLimit: frame, bare, passBytes: Infinity });
      let left = budget;
      for (const f of step.frames) {
        if (f.length > frame) return false;
        const m = decodeMessageV2(f) as Push;
        if (m.scope !== scope) return false;
        left -= f.length;
        if (m.remaining !== null && (m.remaining > left || m.remaining < left - 4)) return false;
        if (m.exhausted && m.commands.length === 0) return false;
        if (m.remaining === null && (!bare || m.commands.length !== 1)) return false;
      }
      if (left < 0 || step.charged !== budget - left) return false;
      // Not exhausted means everything went; exhausted means the next command would break the budget.
      if (!step.exhausted) return step.end === cmds.length;
      const empty = encodeMessageV2({ type: 'Push', scope, remaining: 0xffff_ffff, exhausted: false, commands: [] }).length + 3;
      return step.end < cmds.length && empty + cmds[step.end]!.length > left;
    }),
  );
});
