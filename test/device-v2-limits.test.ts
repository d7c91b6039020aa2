/**
 * The v2 device's fixed tables at their limits (§7 items 3 and 6, §1.9): a full horizon table
 * drops its shallowest entry, so the device cannot give that record and a requester lacking the
 * parent orphans its child (the stated limitation); a scope needing more than 16 members is
 * dropped and closed; a joined genesis that is not the announced one is refused.
 */
import t from 'tap';
import { encodeBarePushV2 } from '../protocol/bare-push-v2.js';
import { encodeCbor } from '../protocol/cbor.js';
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind, GENESIS_OPEN_READ, ITEM_HORIZON_RECORD } from '../protocol/constants-v2.js';
import { decodeHorizonRecord } from '../protocol/horizon-record.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import { encodeMembershipBody } from '../protocol/membership-body.js';
import { HORIZON_SLOTS, ResponderV2 } from '../firmware-sim/device-v2/index.js';
import { Gateway, type GwScope } from './device-v2-gateway.js';

/** A data command of `scope` on `parents`, by the gateway. */
function on(g: Gateway, scope: GwScope, parent: Uint8Array, k: number): CommandV2 {
  const c = encodeCommandV2(scope.id, { parents: [parent], author: g.identity.author, seq: 1000 + k, kind: CommandKind.Data, payload: encodeCbor(['k', k]) }, g.identity.sign);
  scope.commands.push(c);
  return c;
}

t.test('a full horizon table drops an entry: no record for it, and a requester lacking it orphans the child', async (t) => {
  const branches = HORIZON_SLOTS + 1;
  const g = new Gateway({ joinScopes: ['fleet/acme'], ringSizes: { other: branches } });
  const fleet = g.fleetScope();
  const n = g.linked([fleet]).get(fleet)!;
  for (const req of g.take('PollRequest')) g.answer(req, fleet, n);
  // 17 branches a_i on the genesis, then b_i on each: every b_i evicts a_i, which it names.
  const genesis = fleet.commands[0]!;
  const a = Array.from({ length: branches }, (_, k) => on(g, fleet, genesis.id, k));
  const b = a.map((x, k) => on(g, fleet, x.id, 100 + k));
  for (const c of [...a, ...b]) g.sendBody(encodeBarePushV2(c.bytes, n));
  const s = g.device.scopes[1]!;
  t.same(b.map((c) => s.retains(c.id)), b.map(() => true), 'the ring holds every b');
  t.equal(s.horizon.count, HORIZON_SLOTS, 'the horizon table is full');
  t.equal(g.device.stats.horizonDropped, 1, 'one entry had to go');
  const lost = a.filter((x) => s.horizon.indexOf(x.id) < 0);
  t.equal(lost.length, 1);
  t.equal(s.record(lost[0]!.id), null, 'the device can give no record for it');

  const res = new ResponderV2(branches).answer(s, { type: 'PollRequest', scope: 0, session: 1, max_bytes: 1 << 20, heads: [], sample: [], window: 0 }, 0, 1 << 20, 1000);
  t.equal(res.gap, true, 'a horizon and nothing named: gap');
  const recorded = res.items.filter((i) => i[0] === ITEM_HORIZON_RECORD).map((i) => toHex(decodeHorizonRecord(i).id));
  t.equal(recorded.length, HORIZON_SLOTS);
  t.notOk(recorded.includes(toHex(lost[0]!.id)), 'no record of the dropped entry');

  // A second device that holds none of it gets that answer in pieces within one round.
  const r = new Gateway({ joinScopes: ['fleet/acme'] });
  const rn = r.linked([fleet]).get(fleet)!;
  for (let at = 0; at < res.items.length; at += 6) {
    const [req] = r.take('PollRequest');
    const items = res.items.slice(at, at + 6);
    const more = at + 6 < res.items.length;
    r.send({ type: 'PollResponse', scope: rn, session: req!.session, more, gap: at === 0, total: res.total, next_poll_ms: 1000, heads: [], items });
  }
  const rs = r.device.scopes[1]!;
  const placed = b.filter((c) => rs.retains(c.id));
  t.equal(placed.length, branches - 1, 'every child whose parent came as a record is placed');
  t.equal(r.device.stats.adopted, HORIZON_SLOTS);
  const child = b[a.indexOf(lost[0]!)]!;
  t.notOk(rs.retains(child.id), 'the child of the dropped entry is not');
  t.equal(r.device.stats.orphans, 1, 'it is an orphan until a host that keeps more serves it');
  t.equal(r.device.stats.gaps, 1);
});

t.test('a scope needing more than 16 members is dropped and closed, not accepted differently', async (t) => {
  const g = new Gateway({ joinScopes: ['fleet/big'] });
  const reader = (): { publicKey: Uint8Array; roles: number } => ({ publicKey: generateIdentity().publicKey, roles: 1 });
  // The genesis takes 16 members (the device's table exactly); a membership command adds a 17th.
  const big = g.genesis('fleet/big', [{ publicKey: g.identity.publicKey, roles: 7 }, ...Array.from({ length: 15 }, reader)], GENESIS_OPEN_READ);
  g.append(big, encodeMembershipBody({ ops: [reader()] }), g.identity, CommandKind.Membership);
  const rejected: string[] = [];
  g.device.on('rejected', (_, reason) => rejected.push(reason));
  const n = g.linked([big]).get(big)!;
  const [req] = g.take('PollRequest');
  g.answer(req!, big, n);
  t.same(rejected, [], 'nothing is judged differently');
  t.equal(g.device.stats.scopeOverflow, 1);
  t.equal(g.device.scopes[1]!.state, 'free', 'the slot is given back');
  const [sc] = g.take('Scopes');
  t.same(sc?.close, [n], 'the scope is closed toward the gateway');
});

t.test('a joined genesis with another name than announced is refused (§1.9)', async (t) => {
  const g = new Gateway({ joinScopes: ['fleet/acme'] });
  const other = g.fleetScope('fleet/other');
  const announced = { ...other, name: 'fleet/acme' };
  const n = g.linked([announced]).get(announced)!;
  const [req] = g.take('PollRequest');
  g.answer(req!, other, n);
  t.equal(g.device.stats.scopeJoinsRejected, 1);
  t.equal(g.device.scopes[1]!.state, 'free');
  t.equal(g.device.stats.commandsReceived, 0, 'nothing stored');
  const [sc] = g.take('Scopes');
  t.same(sc?.close, [n], 'closed toward the gateway');
});
