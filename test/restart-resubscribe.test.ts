/**
 * A v2 peer that restarts on the same link (a rebooted serial device; an MQTT peer whose new
 * `Hello` reaches a session the other side still holds) is authenticated again in place, and
 * the surviving side must get its push subscriptions back: after the restart the restarted
 * peer's commits reach the other side by push, not only at its next paced poll. A (the scope's
 * owner, on a data directory) restarts as a fresh engine on the same directory and the same
 * "cable"; B keeps its end of the cable and its session.
 *
 * B completes a re-handshake in place; the restarted A starts with empty tables and announces
 * `Scopes` seq 0, which tells B that A's end started anew, so B restarts the link's scope state
 * (session-v2-inbound.ts) and both tables are exchanged again.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { Link } from '../agent/link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import type { SessionV2 } from '../agent/sync/session-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const SCOPE = 'fleet/acme';

t.test('after a v2 peer restarts on the same link, the other side is subscribed to its pushes again', async (tt) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sw-resub-'));
  tt.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  // Slow paced polls (and anti-entropy polls), so only a push can deliver a command within the waits below.
  const tuning = { ...FAST_V2, subscribedPollS: 600, pollHint: { minMs: 60_000, maxMs: 60_000 } };
  const mkA = (): Promise<EngineV2> => EngineV2.open({ identity: ia, trust: { mode: 'list', keys: [ib.publicKey] }, dataDir, durability: { mode: 'none' }, tuning });
  const b = await EngineV2.open({ identity: ib, trust: { mode: 'list', keys: [ia.publicKey] }, tuning, scopes: { join: [SCOPE] } });
  // B's end of the "cable" stays; A's side is swapped for a fresh engine on a fresh link end.
  const [lb, bFar] = createMemoryLinkPair();
  let aFar: Link | null = null;
  bFar.on('frame', (body) => aFar?.send(body));
  const attachA = (e: EngineV2): void => {
    const [la, far] = createMemoryLinkPair();
    far.on('frame', (body) => {
      if (aFar === far) bFar.send(body);
    });
    aFar = far;
    e.attach(la);
  };
  const a1 = await mkA();
  await a1.createScope({ name: SCOPE, members: [{ publicKey: ia.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  const first = toHex(await a1.commit(SCOPE, new TextEncoder().encode('before restart')));
  b.attach(lb);
  attachA(a1);
  tt.teardown(() => b.close());
  const sessionOf = (e: EngineV2, p: Identity): SessionV2 | undefined => e.sessions().find((s) => s.authenticated && s.peerId === p.peerId);
  const subscribed = (): boolean => {
    const s = sessionOf(b, ia);
    const id = b.scope(SCOPE)?.id;
    return s !== undefined && id !== undefined && s.scoped.push.subscriptionOf(id)?.state === 'subscribed';
  };
  await until(() => idsIn(b, SCOPE).includes(first), 20_000, 'B joined the scope and holds its first command');
  await until(subscribed, 20_000, 'B subscribed to A');
  const bSession = sessionOf(b, ia);

  // A restarts: its link end goes quiet (a power cut), a new engine (same identity and data, new
  // nonce) comes up on the same cable.
  aFar = null;
  await a1.close();
  const a2 = await mkA();
  tt.teardown(() => a2.close());
  attachA(a2);
  await until(() => sessionOf(a2, ib) !== undefined, 20_000, 'A authenticated again');
  tt.equal(lb.open, true, "B's end of the cable never closed");
  tt.equal(sessionOf(b, ia), bSession, 'B authenticated A again in place (the same session)');
  const scopeId = a2.scope(SCOPE)!.id;
  await until(() => sessionOf(a2, ib)?.table.active(scopeId) === true, 30_000, 'the scope is active again between B and the restarted A');
  await until(() => subscribed() && a2.subscribedBy(sessionOf(a2, ib)!, scopeId), 30_000, 'B is subscribed to the restarted A (both sides agree)');
  const id = toHex(await a2.commit(SCOPE, new TextEncoder().encode('after restart')));
  await until(() => idsIn(b, SCOPE).includes(id), 30_000, 'a commit of the restarted A is pushed to B');
  tt.pass('the restarted peer is resubscribed and its commits are pushed');
});
