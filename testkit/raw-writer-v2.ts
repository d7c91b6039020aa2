/**
 * A gateway engine holding one open-read scope in which a raw v2 peer (tests only) is a writer,
 * linked to it over an unsealed memory link with the scope active both ways: what tests of the
 * push intake need to speak `Push` messages by hand.
 */
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2, type EngineV2Options } from '../agent/sync/engine-v2.js';
import type { ScopeHost } from '../agent/sync/scope-host.js';
import type { SessionV2 } from '../agent/sync/session-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, type Identity } from '../protocol/keys.js';
import { RawPeerV2 } from './raw-peer-v2.js';
import { until } from './wait.js';

/** What {@link gatewayWithRawWriter} sets up. */
export interface RawWriterRig {
  gw: EngineV2;
  /** The raw peer's identity (a writer of the scope). */
  me: Identity;
  host: ScopeHost;
  raw: RawPeerV2;
  /** The raw peer's own number for the scope (what its `Push` names). */
  scope: number;
  /** The gateway's session of the link. */
  s: SessionV2;
}

/** Open the gateway (closed by `t`'s teardown), create `name` with the raw peer as a writer, link them. */
export async function gatewayWithRawWriter(t: { teardown(fn: () => unknown): void }, tuning: EngineV2Options['tuning'], name = 'fleet/a'): Promise<RawWriterRig> {
  const me = generateIdentity();
  const gw = await EngineV2.open({ identity: generateIdentity(), trust: { mode: 'list', keys: [me.publicKey] }, ...(tuning === undefined ? {} : { tuning }), scopes: { max: Infinity } });
  t.teardown(() => gw.close());
  await gw.createScope({ name, members: [{ publicKey: gw.identity.publicKey, roles: Role.Read | Role.Write | Role.Admin }, { publicKey: me.publicKey, roles: Role.Read | Role.Write }], openRead: true });
  const host = gw.scope(name)!;
  const [a, b] = createMemoryLinkPair({ seal: 'off' });
  const s = gw.attach(a);
  const raw = new RawPeerV2(b, me);
  await until(() => s.authenticated && raw.numberOf(host.id) !== undefined, 20_000, 'up, the scope offered');
  const [scope] = raw.open([{ id: host.id, name }]);
  await until(() => s.table.active(host.id), 20_000, 'the scope active');
  return { gw, me, host, raw, scope: scope!, s };
}
