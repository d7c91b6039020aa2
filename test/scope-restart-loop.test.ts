/**
 * PROTOCOL.md §9.4 rule 1, the restart exception, found by the live fuzzer: after a re-handshake
 * that both ends completed while keeping their tables, a `Scopes` seq 0 that one end applied as
 * "the peer started anew" made it restart and send its own seq 0, which the other end took for
 * a restart of the first; each then restarted the other, hundreds of times a second, for as long
 * as the link lasted. Now an end restarts at most once per completed re-handshake, and a seq-0
 * `Scopes` that repeats the applied one's seq with other entries closes the link.
 * Two engines on an unsealed memory link; what a forger would write is sent on B's end.
 */
import t, { type Test } from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import type { Hello } from '../protocol/messages-v2.js';
import { generateIdentity } from '../protocol/keys.js';
import { sleep, until } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

const SCOPE = 'fleet/loop';

async function pair(t: Test) {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const trust = { mode: 'list' as const, keys: [ia.publicKey, ib.publicKey] };
  const a = await EngineV2.open({ identity: ia, trust, tuning: FAST_V2 });
  const b = await EngineV2.open({ identity: ib, trust, tuning: FAST_V2, scopes: { join: [SCOPE] } });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  await a.createScope({ name: SCOPE, members: [{ publicKey: ia.publicKey, roles: Role.Read | Role.Write | Role.Admin }, { publicKey: ib.publicKey, roles: Role.Read }] });
  const [la, lb] = createMemoryLinkPair({ seal: 'off' });
  let bHello: Hello | null = null;
  const toA = { scopes: 0 };
  la.on('frame', (body) => {
    try {
      const m = decodeMessageV2(body);
      if (m.type === 'Hello' && bHello === null) bHello = m;
      if (m.type === 'Scopes') toA.scopes++;
    } catch {
      // not a message: not counted
    }
  });
  const sa = a.attach(la);
  const sb = b.attach(lb);
  const id = a.scope(SCOPE)!.id;
  await until(() => sa.table.active(id) && sb.table.active(id), 10_000, 'the scope is active both ways');
  // A forged Hello of B (new nonce): A re-handshakes, B answers A's new Hello, both complete and keep their tables.
  lb.send(encodeMessageV2({ ...bHello!, nonce: new Uint8Array(bHello!.nonce.length).fill(7) }));
  await until(() => sa.stats.rehandshakes > 0 && sb.stats.rehandshakes > 0, 10_000, 'both ends completed a re-handshake');
  return { a, b, sa, sb, la, lb, id, toA };
}

t.test('a forged seq-0 Scopes after a re-handshake: one restart each, then the link settles or closes, never a loop', async (t) => {
  for (const same of [true, false]) {
    await t.test(same ? 'the entries B itself sends after a restart: both restart once and the scope is active again' : 'other entries: A closes the link once B answers with its own', async (t) => {
      const { sa, sb, la, lb, id, toA } = await pair(t);
      const open: [number, Uint8Array, string][] = same ? [[0, id, SCOPE]] : [[5, id, SCOPE]];
      lb.send(encodeMessageV2({ type: 'Scopes', seq: 0, open, close: [] }));
      await sleep(1500);
      t.ok(toA.scopes < 20, `Scopes frames reaching A in 1.5 s: ${toA.scopes} (the loop sent hundreds)`);
      const before = toA.scopes;
      await sleep(1000);
      t.ok(toA.scopes - before <= 2, 'and then none but retransmissions');
      if (same) {
        t.equal(la.open && lb.open, true, 'the link stays up');
        await until(() => sa.table.active(id) && sb.table.active(id), 10_000, 'the scope is active both ways again');
        t.equal(sa.stats.table.scopesConflicting, 0);
      } else {
        await until(() => !la.open || !lb.open, 10_000, 'the link is closed (its transport would redial with fresh tables)');
        t.equal(sa.stats.table.scopesConflicting + sb.stats.table.scopesConflicting, 1, 'one conflict counted');
      }
    });
  }
});

