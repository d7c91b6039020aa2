/**
 * EngineV2 end to end over memory links (docs/design/v2-scopes.md §1.8–§1.9, §3): a gateway
 * (device scopes on) and two agent devices that join `fleet/acme`. Each device joins its own
 * device scope and the open-read fleet scope; the gateway's order to device 1 reaches device 1
 * only; device telemetry reaches the gateway only; a fleet configuration reaches both; device 2 is
 * never offered, and never receives, anything of device 1's scope (checked on the wire the
 * gateway sends it, in plaintext through the `frame-out` tap, on sealed links). A v1 peer (v1's
 * Engine) is refused with `UnsupportedVersion`, and both ends log it.
 */
import t from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import type { Logger } from '../agent/node/log.js';
import { encodeCbor } from '../protocol/cbor.js';
import { decodeCommandV2 } from '../protocol/command-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const payloads = (e: EngineV2, name: string): string[] => {
  const h = e.scope(name);
  if (h === undefined) return [];
  const out: string[] = [];
  for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) out.push(new TextDecoder().decode(decodeCommandV2(h.id, h.store.bytesOf(i)).payload));
  return out;
};

/** A logger that keeps its warn lines. */
function warnings(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const keep = (f: object, m?: string): void => void lines.push(`${m ?? ''} ${JSON.stringify(f)}`);
  return { lines, log: { debug() {}, info() {}, warn: keep, error: keep } };
}

t.test('a gateway and two devices: device scopes, the fleet scope, orders and telemetry, nothing leaked', async (t) => {
  const [gi, d1i, d2i] = [generateIdentity(), generateIdentity(), generateIdentity()];
  const gw = await EngineV2.open({ identity: gi, trust: { mode: 'list', keys: [d1i.publicKey, d2i.publicKey] }, tuning: FAST_V2, scopes: { max: Infinity, deviceScopes: {} } });
  const dev = (identity: typeof d1i) => EngineV2.open({ identity, trust: { mode: 'list', keys: [gi.publicKey] }, tuning: FAST_V2, scopes: { join: ['fleet/acme'] } });
  const [d1, d2] = await Promise.all([dev(d1i), dev(d2i)]);
  t.teardown(async () => Promise.all([gw.close(), d1.close(), d2.close()]));
  await gw.createScope({ name: 'fleet/acme', members: [{ publicKey: gi.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  const toD2: Uint8Array[] = [];
  gw.on('frame-out', (peer, m) => peer === d2.peerId && m.length > 0 && toD2.push(m));
  const [g1, l1] = createMemoryLinkPair();
  const [g2, l2] = createMemoryLinkPair();
  gw.attach(g1);
  d1.attach(l1);
  gw.attach(g2);
  d2.attach(l2);
  const ds1 = `device/${d1.peerId}`;
  const ds2 = `device/${d2.peerId}`;
  await until(() => idsIn(d1, ds1).length === 1 && idsIn(d2, ds2).length === 1, 20_000, 'each device joined its device scope');
  await until(() => idsIn(d1, 'fleet/acme').length === 1 && idsIn(d2, 'fleet/acme').length === 1, 20_000, 'both joined the fleet scope');
  t.same(d1.scopes().map((s) => s.name).sort(), [ds1, 'fleet/acme'].sort(), 'device 1 holds its device scope and the fleet scope');
  t.same(d2.scopes().map((s) => s.name).sort(), [ds2, 'fleet/acme'].sort(), 'device 2 likewise');
  t.same(gw.scopes().map((s) => s.name).sort(), [ds1, ds2, 'fleet/acme'].sort(), 'the gateway created both device scopes');

  await gw.commit(ds1, text('order: reboot'));
  await d1.commit(ds1, text('telemetry 1'));
  await d2.commit(ds2, text('telemetry 2'));
  await gw.commit('fleet/acme', text('config: rate 5'));
  await until(() => payloads(d1, ds1).includes('order: reboot'), 20_000, 'the order reached device 1');
  await until(() => payloads(gw, ds1).includes('telemetry 1') && payloads(gw, ds2).includes('telemetry 2'), 20_000, 'telemetry reached the gateway');
  await until(() => payloads(d1, 'fleet/acme').includes('config: rate 5') && payloads(d2, 'fleet/acme').includes('config: rate 5'), 20_000, 'the config reached both');
  t.notOk(payloads(d2, ds1).length > 0 || d2.scope(ds1) !== undefined, 'device 2 never holds device 1\'s scope');
  t.notOk(d1.scope(ds2), 'device 1 never holds device 2\'s scope');
  t.notOk(payloads(d1, ds1).includes('telemetry 2'), 'no telemetry of device 2 in device 1\'s scope');

  // The wire toward device 2: no Scopes entry for device 1's scope, no item of it, not its id anywhere.
  const s1 = gw.scope(ds1)!;
  const s1Hex = toHex(s1.id);
  const s1Commands = new Set<string>();
  for (let i = 0; i < s1.store.size; i++) if (s1.store.isRetained(i)) s1Commands.add(toHex(s1.store.bytesOf(i)));
  const msgs = toD2.map((m) => decodeMessageV2(m));
  t.ok(msgs.some((m) => m.type === 'Scopes') && msgs.some((m) => m.type === 'PollResponse'), 'the tap saw the table and answers');
  const opened = msgs.flatMap((m) => (m.type === 'Scopes' ? m.open.map((e) => toHex(e[1])) : []));
  t.notOk(opened.includes(s1Hex), 'device 1\'s scope was never offered to device 2');
  t.notOk(msgs.some((m) => m.type === 'PollResponse' && m.items.some((b) => s1Commands.has(toHex(b)))), 'no item of device 1\'s scope went to device 2');
  t.notOk(toD2.some((m) => toHex(m).includes(s1Hex)), 'device 1\'s scope id is in no message to device 2');
});

t.test('a v1 peer is refused with UnsupportedVersion, and the agent logs it', async (t) => {
  const [gi, vi] = [generateIdentity(), generateIdentity()];
  const w2 = warnings();
  const gw = await EngineV2.open({ identity: gi, trust: { mode: 'list', keys: [vi.publicKey] }, tuning: FAST_V2, logger: w2.log, scopes: { max: Infinity, deviceScopes: {} } });
  t.teardown(async () => gw.close());
  const sent: Uint8Array[] = [];
  gw.on('frame-out', (_p, m) => sent.push(m));
  // A protocol-1 peer's first frame (the last v1 release): `[0, 1, public_key, max_frame, caps, nonce, ephemeral]`.
  const v1Hello = encodeCbor([0, 1, vi.publicKey, 4096, 7, new Uint8Array(16).fill(7), new Uint8Array(32).fill(9)]);
  const [lg, lv] = createMemoryLinkPair();
  const s = gw.attach(lg);
  lv.send(v1Hello);
  await until(() => !lg.open && !lv.open, 2000, 'the agent closed the link');
  t.notOk(s.authenticated, 'never up');
  t.equal(s.stats.versionRefused >= 1, true, 'counted');
  const refusal = sent.map((m) => decodeMessageV2(m)).find((m) => m.type === 'Error');
  t.same(refusal, { type: 'Error', code: 3, message: 'protocol version 1 is not supported; this peer speaks version 2', retry_after_ms: null }, 'the 3-field refusal');
  t.ok(w2.lines.some((l) => l.includes(`peer ${vi.peerId} speaks protocol 1; this agent speaks 2: upgrade it`)), 'the v2 end logs it at warn');
  t.same(gw.scopes(), [], 'no device scope for a peer that never came up');
  // The same peer again within 10 minutes: refused and counted, but no second warn line (§3.1).
  const [lg2, lv2] = createMemoryLinkPair();
  const s2 = gw.attach(lg2);
  lv2.send(v1Hello);
  await until(() => !lg2.open && !lv2.open, 2000, 'the second link closed too');
  t.ok(s2.stats.versionRefused >= 1, 'the second refusal is counted');
  t.equal(w2.lines.filter((l) => l.includes('upgrade it')).length, 1, 'logged at warn once per peer key per 10 minutes');
  // A v1 peer older than sealing sends no ephemeral key: refused by its version all the same.
  const [lg3, lv3] = createMemoryLinkPair();
  const got: Uint8Array[] = [];
  lv3.on('frame', (b: Uint8Array) => got.push(b));
  gw.attach(lg3);
  lv3.send(encodeCbor([0, 1, vi.publicKey, 4096, 3, new Uint8Array(16).fill(8)]));
  await until(() => !lg3.open, 2000, 'the third link closed');
  const err = got.map((m) => { try { return decodeMessageV2(m); } catch { return null; } }).find((m) => m?.type === 'Error');
  t.match(err, { type: 'Error', code: 3 }, 'a 6-field v1 Hello: UnsupportedVersion');
});
