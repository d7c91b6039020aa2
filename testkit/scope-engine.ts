/** A real v2 engine for API and feed tests: memory stores, one scope `app/x` it created, and the agent's scope addressing over it. */
import type { Test } from 'tap';
import { NodeScopes } from '../agent/cli/node-scopes.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { ALL_ROLES } from '../protocol/constants-v2.js';
import { generateIdentity } from '../protocol/keys.js';

/** Opens the engine and `app/x`; both are closed when `t` ends. */
export async function engineWithScope(t: Test): Promise<{ engine: EngineV2; scopes: NodeScopes }> {
  const me = generateIdentity();
  const engine = await EngineV2.open({ identity: me, trust: { mode: 'list', keys: [] } });
  t.teardown(() => engine.close());
  await engine.createScope({ name: 'app/x', members: [{ publicKey: me.publicKey, roles: ALL_ROLES }] });
  const scopes = new NodeScopes(engine, null, null);
  t.teardown(() => scopes.close());
  return { engine, scopes };
}
