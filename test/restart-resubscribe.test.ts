/**
 * A peer that restarts on the same link (a rebooted serial device; an MQTT peer whose new
 * `Hello` reaches a session the other side still holds) is authenticated again in place (a
 * re-handshake on the same link, PROTOCOL.md §7.5), and the surviving side must subscribe to it
 * again. Before, its
 * requester's `rounds` count survived the restart and it subscribed only when that count first
 * reached 1: after a restart it never subscribed again, so pushes from the restarted peer
 * stopped until its next paced poll (found through MQTT: "both sides authenticated, no push").
 */
import t from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { Link } from '../agent/link.js';
import { Engine } from '../agent/sync/engine.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { generateIdentity } from '../protocol/keys.js';
import { FAST, peerOf } from '../testkit/engines.js';
import { until } from '../testkit/wait.js';

t.test('after a peer restarts on the same link, the other side subscribes to it again', async (tt) => {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const keys = [ia.publicKey, ib.publicKey];
  // Slow paced polls, so only a push can deliver a command within the wait below.
  const opts = { ...FAST, subscribedPollS: 600, pollHint: { minMs: 60_000, maxMs: 60_000 } };
  const mk = (identity: typeof ia): Engine => new Engine({ identity, store: new MemoryStore(), trust: { mode: 'list', keys }, ...opts });
  const b = mk(ib);
  // B's end of the "cable" stays; A's side is swapped for a fresh engine on a fresh link end.
  const [lb, bFar] = createMemoryLinkPair();
  let aFar: Link | null = null;
  bFar.on('frame', (body) => aFar?.send(body));
  const attachA = (e: Engine): void => {
    const [la, far] = createMemoryLinkPair();
    far.on('frame', (body) => { if (aFar === far) bFar.send(body); });
    aFar = far;
    e.attach(la);
  };
  b.attach(lb);
  const a1 = mk(ia);
  attachA(a1);
  tt.teardown(async () => { await b.close(); await a1.close(); });
  const subscribed = (): boolean => peerOf(b, ia.peerId)?.subscribed === true;
  await until(subscribed, 10_000, 'B subscribed to A');

  // A restarts: a new engine (same identity, new nonce) on the same cable.
  const a2 = mk(ia);
  tt.teardown(() => a2.close());
  attachA(a2);
  await until(() => peerOf(b, ia.peerId) !== undefined && peerOf(a2, ib.peerId) !== undefined, 10_000, 'authenticated again');
  await until(subscribed, 10_000, 'B subscribed to the restarted A');
  const id = Buffer.from(await a2.commit(new TextEncoder().encode('after restart')));
  await until(() => b.store.indexOf(id) >= 0, 10_000, 'a push from the restarted A');
  tt.pass('pushes flow after the restart');
});
