/**
 * The v2 engine's trust surface: `setTrust` (live trust changes: removed peers' sessions closed,
 * the others kept, new keys admitted on their next handshake, every scope's grants re-evaluated),
 * the `peer-rejected` event and its warn line naming the full key and the link, and the `open`
 * trust mode. The hub is a gateway (device scopes on), so a peer it admits gets its
 * `device/<peer id>` scope and its commits there reach the hub.
 */
import t from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { Logger } from '../agent/node/log.js';
import type { PeerRejected } from '../agent/sync/engine-events.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import type { TrustMode } from '../agent/sync/trust.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A logger that keeps every warn line. */
function recorder(): { logger: Logger; warns: { fields: Record<string, unknown>; msg: string }[] } {
  const warns: { fields: Record<string, unknown>; msg: string }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (fields: object, msg?: string) => void warns.push({ fields: fields as Record<string, unknown>, msg: msg ?? '' }),
    error() {},
  };
  return { logger, warns };
}

/** A device (joins its device scope) or, with `hub`, a gateway creating device scopes. */
function engine(identity: Identity, trusted: Identity[], o: { hub?: boolean; logger?: Logger; mode?: TrustMode } = {}): Promise<EngineV2> {
  return EngineV2.open({
    identity,
    trust: { mode: o.mode ?? 'list', keys: trusted.map((i) => i.publicKey) },
    tuning: FAST_V2,
    scopes: o.hub === true ? { max: Infinity, deviceScopes: {} } : {},
    ...(o.logger ? { logger: o.logger } : {}),
  });
}

/** Link two engines by a memory link pair; returns the hub-side end. */
function connect(a: EngineV2, b: EngineV2): ReturnType<typeof createMemoryLinkPair>[0] {
  const [la, lb] = createMemoryLinkPair();
  a.attach(la);
  b.attach(lb);
  return la;
}

t.test('setTrust closes removed peers, keeps the others, admits new ones on their next handshake', async (t) => {
  const [ih, ia, ib, ic] = [generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()];
  const hub = await engine(ih, [ia, ib], { hub: true });
  const [a, b, c] = await Promise.all([ia, ib, ic].map((i) => engine(i, [ih])));
  t.teardown(() => Promise.all([hub, a!, b!, c!].map((e) => e.close())));
  const up = new Set<string>();
  let ups = 0;
  hub.on('peer-up', (p) => (up.add(p), ups++));
  hub.on('peer-down', (p) => up.delete(p));
  const rejected: PeerRejected[] = [];
  hub.on('peer-rejected', (r) => rejected.push(r));
  const aLink = connect(hub, a!);
  connect(hub, b!);
  connect(hub, c!);
  await until(() => up.has(ia.peerId) && up.has(ib.peerId) && rejected.length === 1, 10_000, 'A and B up, C rejected');
  t.equal(rejected[0]!.publicKey, toHex(ic.publicKey), 'the rejection names the full key');
  t.equal(rejected[0]!.peerId, ic.peerId);
  t.equal(rejected[0]!.reason, 'untrusted');
  t.match(rejected[0]!.link, /memory/, 'and the link');
  t.notOk(hub.scope(`device/${ic.peerId}`), 'no device scope for a refused peer');

  const upsBefore = ups;
  const change = hub.setTrust('list', [ia.publicKey, ic.publicKey]);
  t.same(change, { added: 1, removed: 1, closed: 1 }, 'C added, B removed, B closed');
  await until(() => !up.has(ib.peerId), 10_000, "B's link closed");
  t.ok(up.has(ia.peerId), 'A stays up');
  t.equal(aLink.open, true, "A's link is the same, still open");
  // C's old link was closed by the refusal; a new link handshakes under the new trust.
  connect(hub, c!);
  await until(() => up.has(ic.peerId), 10_000, 'C admitted on its next handshake');
  t.equal(ups, upsBefore + 1, 'only C came up: A was not re-authenticated');
  const ds = `device/${ic.peerId}`;
  await until(() => c!.scope(ds) !== undefined && !c!.scope(ds)!.joining, 10_000, 'C joined its device scope');
  const id = toHex(await c!.commit(ds, enc('from c')));
  await until(() => idsIn(hub, ds).includes(id), 10_000, "C's commands accepted");
  t.same(hub.setTrust('list', [ia.publicKey, ic.publicKey]), { added: 0, removed: 0, closed: 0 }, 'the same list changes nothing');
  t.ok(up.has(ia.peerId) && up.has(ic.peerId));
});

t.test('a refused handshake logs the full public key and the link', async (t) => {
  const [ih, ix] = [generateIdentity(), generateIdentity()];
  const rec = recorder();
  const hub = await engine(ih, [], { hub: true, logger: rec.logger });
  const x = await engine(ix, [ih]);
  t.teardown(() => Promise.all([hub, x].map((e) => e.close())));
  const link = connect(hub, x);
  await until(() => rec.warns.some((w) => w.fields.publicKey !== undefined), 10_000, 'the refusal logged');
  const w = rec.warns.find((l) => l.fields.publicKey !== undefined)!;
  t.equal(w.fields.publicKey, toHex(ix.publicKey));
  t.equal(w.fields.peer, ix.peerId);
  t.match(String(w.fields.link), /memory/);
  await until(() => !link.open, 10_000, 'and the link closed');
  t.same(hub.scopes(), [], 'nothing created for it');
});

t.test("trust mode 'open' admits any key; switching to 'list' closes the ones not listed", async (t) => {
  const [ih, ia, ib] = [generateIdentity(), generateIdentity(), generateIdentity()];
  const hub = await engine(ih, [], { hub: true, mode: 'open' });
  const [a, b] = await Promise.all([ia, ib].map((i) => engine(i, [ih])));
  t.teardown(() => Promise.all([hub, a!, b!].map((e) => e.close())));
  const up = new Set<string>();
  hub.on('peer-up', (p) => up.add(p));
  hub.on('peer-down', (p) => up.delete(p));
  connect(hub, a!);
  connect(hub, b!);
  await until(() => up.has(ia.peerId) && up.has(ib.peerId), 10_000, 'both admitted under mode open');
  t.same(hub.setTrust('list', [ia.publicKey]).closed, 1, 'B closed');
  await until(() => !up.has(ib.peerId), 10_000, "B's link closed");
  t.ok(up.has(ia.peerId), 'A stays up');
});
