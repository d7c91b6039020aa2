/**
 * Pushes as compact batches (agent/sync/push-batch-v2.ts, PROTOCOL.md §10.7 `Push.batch`): to a
 * subscriber that announced `CompactBatch`, a push step of several commands sends them as one
 * batch per frame, in order, within the budget and the frame (property); one command left still
 * goes plain or bare; a held command (no signature) ends the step. Between engines, a burst of
 * commits reaches a subscriber in batch pushes and in fewer bytes than plain pushes.
 */
import t from 'tap';
import fc from 'fast-check';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { pushStepV2 } from '../agent/sync/push-frames-v2.js';
import { decodeHeldCommandV2, encodeCommandV2, heldCommandV2, unsignedOf, type CommandV2 } from '../protocol/command-v2.js';
import { fingerprint } from '../protocol/command.js';
import { decodeBatch } from '../protocol/compact-batch.js';
import { CommandKind, Role } from '../protocol/constants-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import type { Push } from '../protocol/messages-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

const SCOPE = new Uint8Array(32).fill(7);
const me = generateIdentity();

/** A chain of commands with the given payload sizes. */
function chain(sizes: readonly number[]): CommandV2[] {
  const out: CommandV2[] = [];
  let parent: Uint8Array = new Uint8Array(32).fill(1);
  sizes.forEach((n, i) => {
    const c = encodeCommandV2(SCOPE, { parents: [parent], author: fingerprint(me.publicKey), seq: i + 1, kind: CommandKind.Data, payload: new Uint8Array(n).fill(i & 0xff) }, (m) => me.sign(m));
    out.push(c);
    parent = c.id;
  });
  return out;
}
const sourceOf = (bodies: readonly Uint8Array[]) => ({ idOf: (h: number) => decodeHeldCommandV2(SCOPE, bodies[h]!).id, lengthOf: (h: number) => bodies[h]!.length, bytesOf: (h: number) => bodies[h]!.slice() });

t.test('property: batch pushes stay within budget and frame, carry the commands in order, exhausted only when the next would break the budget', async () => {
  const cmds = chain(Array.from({ length: 40 }, (_, i) => (i * 37) % 900));
  const bodies = cmds.map((c) => c.bytes);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 1536, max: 8192 }), fc.boolean(), (n, budget, frame, bare) => {
      const todo = Array.from({ length: n }, (_, i) => i);
      const step = pushStepV2(sourceOf(bodies), todo, 0, { scope: 3, budget, frameLimit: frame, bare, compact: true, passBytes: Infinity });
      let left = budget;
      const got: string[] = [];
      for (const f of step.frames) {
        if (f.length > frame) return false;
        left -= f.length;
        const m = decodeMessageV2(f) as Push;
        if (m.remaining !== null && (m.remaining > left || m.remaining < left - 4)) return false;
        for (const c of m.commands) got.push(toHex(c));
        if (m.batch !== undefined && m.batch !== null) {
          const rebuilt = decodeBatch(SCOPE, m.batch, 65536);
          if (rebuilt.length < 2 || m.commands.length !== 0) return false;
          for (const r of rebuilt) got.push(toHex(bodies[cmds.findIndex((c) => toHex(c.id) === toHex(r.id))]!));
        }
      }
      if (left < 0 || step.charged !== budget - left) return false;
      if (got.join() !== bodies.slice(0, step.end).map(toHex).join()) return false; // in order, nothing twice, nothing left out
      return step.exhausted ? step.end < n : step.end === n;
    }),
    { numRuns: 300 },
  );
});

t.test('one command left goes bare; a held command ends the step', async (t) => {
  const cmds = chain([100, 100, 100, 100]);
  const bodies = [cmds[0]!.bytes, cmds[1]!.bytes, heldCommandV2(cmds[2]!, unsignedOf(cmds[2]!.bytes), cmds[2]!.id).bytes, cmds[3]!.bytes];
  const o = { scope: 1, budget: 65536, frameLimit: 65536, bare: true, compact: true, passBytes: 65536 };
  const one = pushStepV2(sourceOf(bodies), [3], 0, o);
  t.equal(decodeMessageV2(one.frames[0]!).type, 'Push');
  t.equal(one.frames[0]![0], 0x87, 'a bare push (7-element array), not a batch');
  const s = pushStepV2(sourceOf(bodies), [0, 1, 2, 3], 0, o);
  t.same([s.end, s.held, s.frames.length], [2, true, 1], 'the batch of two, then the step stops before the held command');
  const m = decodeMessageV2(s.frames[0]!) as Push;
  t.equal(decodeBatch(SCOPE, m.batch!, 65536).length, 2);
});

t.test('engines: a burst of commits reaches a CompactBatch subscriber in batch pushes', async (t) => {
  const [gi, di] = [generateIdentity(), generateIdentity()];
  const gw = await EngineV2.open({ identity: gi, trust: { mode: 'list', keys: [di.publicKey] }, tuning: FAST_V2, scopes: { max: Infinity } });
  const dev = await EngineV2.open({ identity: di, trust: { mode: 'list', keys: [gi.publicKey] }, tuning: FAST_V2, scopes: { join: ['fleet/p'], max: Infinity } });
  t.teardown(() => Promise.all([gw.close(), dev.close()]));
  await gw.createScope({ name: 'fleet/p', members: [{ publicKey: gi.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  const pushes: Push[] = [];
  gw.on('frame-out', (_p, m) => {
    const msg = decodeMessageV2(m);
    if (msg.type === 'Push') pushes.push(msg);
  });
  const [a, b] = createMemoryLinkPair({ seal: 'off' });
  gw.attach(a);
  dev.attach(b);
  const id = (): Uint8Array => gw.scope('fleet/p')!.id;
  await until(() => gw.sessions().some((x) => x.authenticated && gw.subscribedBy(x, id())), 20_000, 'the device subscribed');
  const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => gw.commit('fleet/p', new Uint8Array(100).fill(i))));
  await until(() => ids.every((x) => dev.scope('fleet/p')!.store.indexOf(x) >= 0), 20_000, 'all 50 at the device');
  const batched = pushes.filter((p) => p.batch !== undefined && p.batch !== null);
  t.ok(batched.length >= 1, `${batched.length} of ${pushes.length} pushes carried a batch`);
  t.ok(batched.every((p) => p.commands.length === 0), 'a batch push carries no plain command');
});
