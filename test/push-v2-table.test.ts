/**
 * agent/sync/subscription-table-v2.ts, the (peer, scope) subscription table of protocol-v2.md
 * §11.1: the FNV-1a key hash and §11.1's computed example, power-of-two capacities only, one slot
 * per (peer, scope) with 128 slots for 128 keys and none for the 129th, the oldest suspended slot
 * freed for a newcomer, suspended slots reaped after 60 s, and a fast-check model check of
 * insert / remove / find under linear probing with tombstones.
 */
import fc from 'fast-check';
import t from 'tap';
import { DEFAULT_SUBSCRIPTION_CAPACITY } from '../protocol/constants.js';
import { fromHex } from '../protocol/keys.js';
import { SUSPEND_MS, SubscriptionCapacityError, SubscriptionTableV2, subscriptionHash } from '../agent/sync/subscription-table-v2.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const fp = (n: number): Uint8Array => Uint8Array.from([0xa0, 0, 0, 0, (n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255]);
const scope = (n: number): Uint8Array => {
  const s = new Uint8Array(32);
  s[0] = 0x5c;
  s[31] = n & 255;
  s[30] = (n >> 8) & 255;
  return s;
};

t.test('FNV-1a over fingerprint ‖ scope id: the test string and §11.1\'s example', async (t) => {
  t.equal(subscriptionHash(ascii('foo'), ascii('bar')), 0xbf9cf968, 'fnv1a("foobar"), split anywhere');
  const peerA = fromHex('34750f98bd59fcfc');
  const genesisDevice = fromHex('230f8063e6f594e698b958ff7bfc0d8f83f950cf9c8dc1310060d682b4a56485');
  t.equal(subscriptionHash(peerA, genesisDevice), 0x17314036, 'peer A and the scope of genesis_device');
  const table = new SubscriptionTableV2(DEFAULT_SUBSCRIPTION_CAPACITY);
  t.equal(table.homeOf(peerA, genesisDevice), 54, 'home slot 54 of 128');
  t.equal(table.insert(peerA, '34750f98bd59fcfc', genesisDevice, 0, 1), 54, 'an empty table puts it in its home slot');
  t.equal(table.find(peerA, genesisDevice), 54);
  t.equal(table.find(peerA, scope(1)), -1, 'same peer, another scope: another key');
});

t.test('capacity: a power of two from 1 to 65,536, else refused at start-up', async (t) => {
  for (const bad of [0, 3, 100, 129, 65537 * 2, 1.5, -128]) t.throws(() => new SubscriptionTableV2(bad), SubscriptionCapacityError, `${bad} refused`);
  for (const ok of [1, 2, 128, 512, 65536]) t.equal(new SubscriptionTableV2(ok).capacity, ok, `${ok} taken`);
});

t.test('128 slots hold 128 (peer, scope) keys; the 129th finds no slot', async (t) => {
  const table = new SubscriptionTableV2(128);
  // 9 peers with 15 scopes each (135 keys): several scopes per peer and several peers per scope.
  const keys: Array<[number, number]> = [];
  for (let p = 0; p < 9; p++) for (let s = 0; s < 15; s++) keys.push([p, s]);
  const slots = new Set<number>();
  for (const [p, s] of keys.slice(0, 128)) {
    const slot = table.insert(fp(p), `peer${p}`, scope(s), s, p);
    t.ok(slot >= 0, `(${p}, ${s}) placed`) || t.bailout();
    slots.add(slot);
  }
  t.equal(slots.size, 128, 'every key its own slot');
  t.equal(table.size, 128);
  const [p129, s129] = keys[128]!;
  t.equal(table.insert(fp(p129), `peer${p129}`, scope(s129), s129, p129), -1, 'the 129th is refused: nothing suspended to free');
  for (const [p, s] of keys.slice(0, 128)) if (table.find(fp(p), scope(s)) < 0) t.fail(`(${p}, ${s}) lost`);
  t.equal(table.peerAt(table.find(fp(3), scope(7))), 'peer3');
  t.equal(table.scopeIxAt(table.find(fp(3), scope(7))), 7, 'the slot holds the host-local scope index');
});

t.test('full: the suspended slot whose link closed first is freed for a newcomer; suspended slots last 60 s', async (t) => {
  const table = new SubscriptionTableV2(4);
  const s = [0, 1, 2, 3].map((i) => table.insert(fp(i), `p${i}`, scope(0), 0, i));
  for (const slot of s) table.grant(slot, 1e12, 1000);
  table.suspend(s[2]!, 5000);
  table.suspend(s[1]!, 6000);
  t.ok(table.isSuspended(s[2]!) && table.linkAt(s[2]!) === -1, 'suspended: bound to no link');
  const n = table.insert(fp(9), 'p9', scope(0), 0, 9);
  t.ok(n >= 0, 'the newcomer got a slot');
  t.equal(table.find(fp(2), scope(0)), -1, 'peer 2, whose link closed first, was freed');
  t.ok(table.find(fp(1), scope(0)) >= 0, 'peer 1 is still suspended');
  table.resume(s[1]!, 11);
  t.notOk(table.isSuspended(s[1]!), 'resumed');
  t.equal(table.linkAt(s[1]!), 11, 'on its new link');
  table.suspend(s[3]!, 10_000);
  t.equal(table.reap(10_000 + SUSPEND_MS - 1), 0, 'kept for just under 60 s');
  t.equal(table.reap(10_000 + SUSPEND_MS), 1, 'reaped at 60 s');
  table.grant(s[0]!, 20_000, 1000);
  t.equal(table.earliestClose(), 20_000);
  const gone: number[] = [];
  t.equal(table.reap(20_000, (slot) => gone.push(slot)), 1, 'reaped at its close time');
  t.same(gone, [s[0]]);
});

t.test('property: insert / remove / find agree with a map, through probe chains and tombstones', async () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('insert' as const), p: fc.nat(5), s: fc.nat(5) }),
    fc.record({ kind: fc.constant('remove' as const), p: fc.nat(5), s: fc.nat(5) }),
  );
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 4, 8, 16), fc.array(op, { maxLength: 80 }), (cap, ops) => {
      const table = new SubscriptionTableV2(cap);
      const model = new Map<string, number>();
      for (const o of ops) {
        const key = `${o.p}:${o.s}`;
        const found = table.find(fp(o.p), scope(o.s));
        if (found !== (model.get(key) ?? -1)) return false;
        if (o.kind === 'insert' && found < 0) {
          const slot = table.insert(fp(o.p), key, scope(o.s), o.s, 0);
          if ((slot < 0) !== (model.size >= cap)) return false;
          if (slot >= 0) model.set(key, slot);
        } else if (o.kind === 'remove' && found >= 0) {
          table.remove(found);
          model.delete(key);
        }
        if (table.size !== model.size) return false;
      }
      for (const [key, slot] of model) if (table.peerAt(slot) !== key) return false;
      return true;
    }),
  );
});
