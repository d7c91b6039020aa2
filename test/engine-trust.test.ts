/**
 * The engine's operator surface: `setTrust` (live trust changes), the `peer-rejected` event and
 * its log line, and `snapshot()` with the per-peer contact, sync, reconnect and lag fields and the
 * push/apply latency histograms.
 */
import t from 'tap';
import { Engine } from '../agent/sync/engine.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import type { PeerRejected } from '../agent/sync/engine.js';
import type { Logger } from '../agent/node/log.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { connect, converge, FAST } from '../testkit/engines.js';
import { until } from '../testkit/wait.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A logger that keeps every warn line. */
function recorder(): { logger: Logger; warns: { fields: Record<string, unknown>; msg: string }[] } {
  const warns: { fields: Record<string, unknown>; msg: string }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (fields: object, msg?: string) => void warns.push({ fields: fields as Record<string, unknown>, msg: msg ?? "" }),
    error() {},
  };
  return { logger, warns };
}

function engine(identity: Identity, trusted: Identity[], logger?: Logger): Engine {
  return new Engine({ identity, store: new MemoryStore(), trust: { mode: 'list', keys: trusted.map((i) => i.publicKey) }, ...FAST, ...(logger ? { logger } : {}) });
}

t.test('setTrust closes removed peers, keeps the others, admits new ones on their next handshake', async (t) => {
  const [ih, ia, ib, ic] = [generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()];
  const hub = engine(ih, [ia, ib]);
  const a = engine(ia, [ih]);
  const b = engine(ib, [ih]);
  const c = engine(ic, [ih]);
  t.teardown(() => Promise.all([hub, a, b, c].map((e) => e.close())));
  const up = new Set<string>();
  hub.on('peer-up', (p) => up.add(p));
  hub.on('peer-down', (p) => up.delete(p));
  const rejected: PeerRejected[] = [];
  hub.on('peer-rejected', (r) => rejected.push(r));
  connect(hub, a);
  connect(hub, b);
  connect(hub, c);
  await until(() => up.has(ia.peerId) && up.has(ib.peerId) && rejected.length === 1, 5000, 'A and B up, C rejected');
  t.equal(rejected[0]!.publicKey, toHex(ic.publicKey), 'the rejection names the full key');
  t.equal(rejected[0]!.peerId, ic.peerId);
  t.equal(rejected[0]!.reason, 'untrusted');
  t.match(rejected[0]!.link, /memory/, 'and the link');

  const change = hub.setTrust('list', [ia.publicKey, ic.publicKey]);
  t.same(change, { added: 1, removed: 1, closed: 1 }, 'C added, B removed, B closed');
  await until(() => !up.has(ib.peerId), 5000, "B's link closed");
  t.ok(up.has(ia.peerId), 'A stays up');
  // C's old link was closed by the refusal; a new link handshakes under the new trust.
  connect(hub, c);
  await until(() => up.has(ic.peerId), 5000, 'C admitted on its next handshake');
  await c.commit(enc('from c'));
  t.ok(await converge([hub, c]), "C's commands accepted");
  t.same(hub.setTrust('list', [ia.publicKey, ic.publicKey]), { added: 0, removed: 0, closed: 0 }, 'the same list changes nothing');
  t.ok(up.has(ia.peerId) && up.has(ic.peerId));
});

t.test('a refused handshake logs the full public key and the link', async (t) => {
  const [ih, ix] = [generateIdentity(), generateIdentity()];
  const rec = recorder();
  const hub = engine(ih, [], rec.logger);
  const x = engine(ix, [ih]);
  t.teardown(() => Promise.all([hub, x].map((e) => e.close())));
  connect(hub, x);
  await until(() => rec.warns.some((w) => w.fields.publicKey !== undefined), 5000, 'the refusal logged');
  const w = rec.warns.find((l) => l.fields.publicKey !== undefined)!;
  t.equal(w.fields.publicKey, toHex(ix.publicKey));
  t.equal(w.fields.peer, ix.peerId);
  t.match(String(w.fields.link), /memory/);
});

t.test('snapshot: contact, sync, reconnects, behind and latency', async (t) => {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const a = engine(ia, [ib]);
  const b = engine(ib, [ia]);
  t.teardown(() => Promise.all([a, b].map((e) => e.close())));
  for (let i = 0; i < 5; i++) await a.commit(enc(`a${i}`));
  const before = a.snapshot();
  t.equal(before.commands, 5);
  t.equal(before.peers.length, 0);
  t.equal(before.latency.pushMs.count, 0);

  const [la] = connect(a, b);
  await until(() => b.snapshot().peers.some((p) => p.sync.subscribed) && a.snapshot().subscriptions.used === 1, 5000, 'B subscribed to A');
  const pb = b.snapshot().peers.find((p) => p.id === ia.peerId)!;
  t.ok(pb.lastContactMs !== null && pb.lastContactMs > 0, 'a frame arrived from A');
  t.ok(pb.lastSyncMs !== null, 'a poll round with B completed');
  t.equal(pb.reconnects, 0, 'first authentication');
  t.equal(pb.behind, 0, 'A holds everything B holds');
  t.ok(b.snapshot().latency.applyMs.count >= 1, "B applied A's poll answer");
  const pa = a.snapshot().peers.find((p) => p.id === ib.peerId)!;
  t.ok(pa.behind !== null && pa.behind >= 0 && pa.behind <= 5, `B answered A's poll: behind ${pa.behind} (an estimate, from B's last answer)`);

  await a.commit(enc('pushed'));
  await until(() => b.store.size === 6, 5000, 'the push arrived');
  await until(() => a.snapshot().latency.pushMs.count >= 1, 5000, 'push latency observed');
  const push = a.snapshot().latency.pushMs;
  t.equal(push.cumulative.length, push.bounds.length + 1, 'one bucket more than bounds');
  t.equal(push.cumulative[push.cumulative.length - 1], push.count, 'the last bucket is the total');

  await la.close();
  await until(() => b.snapshot().peers.length === 0 && a.snapshot().peers.length === 0, 5000, 'both sides down');
  connect(a, b);
  await until(() => b.snapshot().peers.some((p) => p.authenticated), 5000, 'up again');
  t.equal(b.snapshot().peers[0]!.reconnects, 1, 'one reconnect counted');
});
