/**
 * One push pass serving many subscribers of a scope at once (agent/sync/push-pass-memo-v2.ts):
 * the pass shares walks and encoded frames between slots whose inputs are equal, so every input
 * that makes a subscriber's push differ must still make it differ — what it knew, what came from
 * it or its `via`, its budget, its number for the scope, bare or enveloped. Each subscriber here
 * differs from the reference one in exactly one of those, all served by the same single pass.
 */
import t from 'tap';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { PusherV2, type PushLinkV2 } from '../agent/sync/pusher-v2.js';
import { isBarePushV2 } from '../protocol/bare-push-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { fromHex, generateIdentity, toHex } from '../protocol/keys.js';
import type { Push, Subscribe } from '../protocol/messages-v2.js';

/** Run passes until none is left: a pass yields after TURN_BUDGET_MS, which a loaded machine can reach mid-test. */
function drain(p: PusherV2): void {
  for (let i = 0; i < 100 && p.flush(); i++);
}

interface Sink extends PushLinkV2 {
  frames: Uint8Array[];
  errors: string[];
}

let nextLink = 1;
function sink(peer: number, scopeHex: string, number: number, bare = false): Sink {
  const frames: Uint8Array[] = [];
  const errors: string[] = [];
  return {
    linkId: nextLink++, peerId: peer.toString(16).padStart(16, '0'), fingerprint: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, peer]),
    blocked: false, sendLimit: 65536, acceptsBare: bare, acceptsBatch: false, frames, errors,
    theirNumber: (id) => (toHex(id) === scopeHex ? number : undefined),
    sendFrame: (b) => void frames.push(b),
    sendError: (reason) => void errors.push(reason),
    pushed: () => undefined,
  };
}

/** The command bodies a link was pushed, in order, as hex. */
const pushedOf = (l: Sink): string[] => l.frames.flatMap((f) => (isBarePushV2(f) ? [] : (decodeMessageV2(f) as Push).commands.map((c) => toHex(c))));

t.test('one pass, many subscribers: each gets its own push though equal ones share the work', async (t) => {
  const me = generateIdentity();
  const e = await EngineV2.open({ identity: me, scopes: { max: Infinity } });
  t.teardown(() => e.close());
  const S = await e.createScope({ name: 'team/s', members: [{ publicKey: me.publicKey, roles: Role.Read | Role.Write | Role.Admin }] });
  const hex = toHex(S.id);
  const pusher = new PusherV2({ capacity: 128, maxRemainOpenS: 900, now: () => 1_000_000, storeOf: (id) => (toHex(id) === hex ? S.store : undefined) });
  t.teardown(() => pusher.close());
  const heads = (): Uint8Array[] => S.store.heads().map((x) => S.store.idOf(x).slice());
  const sub = (o: Partial<Subscribe>): Subscribe => ({ type: 'Subscribe', scope: 0, remain_open: 600, max_bytes: 1 << 20, sample: heads(), via: [], ...o });
  const commit = async (payload: string, from = 'local'): Promise<string> => {
    const id = await e.commit(S.name, new TextEncoder().encode(payload));
    const h = S.store.indexOf(id);
    pusher.appended(hex, [h], from);
    return toHex(S.store.bytesOf(h));
  };
  const P = '00000000000000aa'; // a peer the third command came from

  const before = heads();
  const c0 = await commit('zero');
  drain(pusher);
  const links = {
    ref: sink(1, hex, 3), twin: sink(2, hex, 3), behind: sink(3, hex, 3), viaP: sink(4, hex, 3),
    poor: sink(5, hex, 3), renamed: sink(6, hex, 9), bare: sink(7, hex, 3, true),
  };
  for (const l of Object.values(links)) pusher.linkUp(l);
  const grant = (l: Sink, o: Partial<Subscribe> = {}): void => void t.equal(pusher.subscribe(l, S.id, sub(o)).granted, true);
  grant(links.ref);
  grant(links.twin);
  grant(links.behind, { sample: before });
  grant(links.viaP, { via: [fromHex(P)] });
  grant(links.renamed);
  grant(links.bare);
  grant(links.poor, { max_bytes: 1 });
  drain(pusher); // the new subscribers know the heads (behind: the ones before c0) and hold nothing to push yet...
  t.same(pushedOf(links.behind), [c0], '...but the one behind, which is sent c0 at once');
  links.behind.frames.length = 0;

  const c1 = await commit('one');
  const c2 = await commit('two', P);
  const oneFrame = links.ref.frames.length;
  drain(pusher); // one pass for everyone (more only on a machine slow enough to reach the turn budget)

  t.same(pushedOf(links.ref), [c1, c2], 'the reference subscriber: both new commands');
  t.equal(links.ref.frames.length, oneFrame + 1, 'in one Push');
  t.same(links.ref.frames.map((f) => (decodeMessageV2(f) as Push).scope), [3], 'named by its number, 3');
  t.same(pushedOf(links.twin), [c1, c2], 'an equal subscriber: the same');
  t.same(links.twin.frames.map(toHex), links.ref.frames.map(toHex), 'byte for byte');
  t.same(pushedOf(links.behind), [c1, c2], 'the one that was behind: caught up by its own walk, then the same');
  t.same(pushedOf(links.viaP), [c1], 'the one receiving P\'s commands via P: not c2');
  const renamed = links.renamed.frames.map((f) => decodeMessageV2(f) as Push);
  t.same(renamed.map((m) => m.scope), [9], 'the one whose number for S is 9: named 9');
  t.same(renamed[0]!.commands.map((c) => toHex(c)), [c1, c2]);
  t.same(links.bare.frames.length, 1, 'the bare-capable one: two commands still go enveloped');
  t.same(pushedOf(links.bare), [c1, c2]);
  t.same(links.poor.frames, [], 'the poor one: not even c1 fits a 1-byte budget');
  t.same(links.poor.errors, ['BudgetExhausted'], 'so its subscription ends');
  for (const l of [links.ref, links.twin, links.behind, links.viaP, links.renamed, links.bare]) t.same(l.errors, [], `${l.peerId}: no error`);

  // Known heads advanced for all: the next command alone goes to each, bare to the bare one.
  for (const l of Object.values(links)) l.frames.length = 0;
  const c3 = await commit('three');
  drain(pusher);
  for (const l of [links.ref, links.twin, links.behind, links.viaP, links.renamed]) t.same(pushedOf(l), [c3], `${l.peerId}: only c3 next`);
  t.equal(links.bare.frames.length, 1);
  t.ok(isBarePushV2(links.bare.frames[0]!), 'one command to the bare-capable one: a bare push');
  t.same(links.poor.frames, [], 'the poor one is gone');
});
