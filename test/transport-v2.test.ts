/**
 * Protocol v2 over real transports (agent/node/attach-transport.ts): an EngineV2 gateway (device
 * scopes on, an open-read `fleet/acme`) and an EngineV2 agent that joins the fleet scope, over
 * TCP (listen + dial), MQTT through a real Mosquitto on a free port (dial + dial), serial over the
 * simulated serialport binding and serial over a socat PTY pair. Each: the agent joins its device
 * scope and the fleet scope, an order (gateway → agent) and telemetry (agent → gateway) arrive,
 * a fleet config reaches the agent, and both ends retain the same commands of both scopes.
 *
 * Mosquitto and socat are optional on a dev machine (a missing one skips its case with a message);
 * under CI=true a missing one fails the run, as in test/transport-conformance.test.ts.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachTransport, type AttachedTransport } from '../agent/node/attach-transport.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import type { TransportOptions } from '../agent/transport/registry.js';
import { SimRegistry, createSimBinding, createSimLink } from '../firmware-sim/uart/index.js';
import { decodeCommandV2 } from '../protocol/command-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity } from '../protocol/keys.js';
import { findBin, freePort, mosquitto as startMosquitto, mosquittoConf } from '../testkit/net.js';
import { sleep, until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const CI = process.env.CI === 'true';
const FLEET = 'fleet/acme';
const WAIT_MS = 30_000; // a fallback only: nothing asserts a duration
const fast: TransportOptions = { reconnectBaseMs: 50, reconnectMaxMs: 500 };
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Skip message outside CI; under CI a missing tool is a failure. */
function missing(what: string): string | undefined {
  if (CI) {
    t.fail(`${what} is required under CI=true`);
    return `${what} missing (failed above)`;
  }
  return `${what} not installed; skipped (install it to run this case)`;
}

/** Decoded payloads `e` retains in scope `name`. */
function payloads(e: EngineV2, name: string): string[] {
  const h = e.scope(name);
  if (h === undefined) return [];
  const out: string[] = [];
  for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) out.push(new TextDecoder().decode(decodeCommandV2(h.id, h.store.bytesOf(i)).payload));
  return out;
}

/** How one case wires the two engines: open the gateway's transport, then the agent's. */
interface Wiring {
  gateway(gw: EngineV2, agent: EngineV2): Promise<AttachedTransport>;
  agent(agent: EngineV2, gw: EngineV2, gwSide: AttachedTransport): Promise<AttachedTransport>;
  teardown?(): Promise<void>;
}

/** The scenario every transport runs. */
async function scenario(t: Test, w: Wiring): Promise<void> {
  const [gi, ai] = [generateIdentity(), generateIdentity()];
  const gw = await EngineV2.open({ identity: gi, trust: { mode: 'list', keys: [ai.publicKey] }, tuning: FAST_V2, scopes: { max: Infinity, deviceScopes: {} } });
  const agent = await EngineV2.open({ identity: ai, trust: { mode: 'list', keys: [gi.publicKey] }, tuning: FAST_V2, scopes: { join: [FLEET] } });
  const transports: AttachedTransport[] = [];
  t.teardown(async () => {
    await Promise.all(transports.map((x) => x.close()));
    await Promise.all([gw.close(), agent.close()]);
    await w.teardown?.();
  });
  await gw.createScope({ name: FLEET, members: [{ publicKey: gi.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  const g = await w.gateway(gw, agent);
  transports.push(g);
  transports.push(await w.agent(agent, gw, g));
  const own = `device/${agent.peerId}`;
  await until(() => idsIn(agent, own).length >= 1 && idsIn(agent, FLEET).length >= 1, WAIT_MS, 'the agent joined its device scope and the fleet scope');
  t.same(agent.scopes().map((s) => s.name).sort(), [own, FLEET].sort(), 'the agent holds its device scope and the fleet scope');

  await gw.commit(own, text('order: reboot'));
  await agent.commit(own, text('telemetry 1'));
  await gw.commit(FLEET, text('config: rate 5'));
  await until(() => payloads(agent, own).includes('order: reboot'), WAIT_MS, 'the order reached the agent');
  t.pass('a gateway commit reached the agent');
  await until(() => payloads(gw, own).includes('telemetry 1'), WAIT_MS, 'the telemetry reached the gateway');
  t.pass('an agent commit reached the gateway');
  await until(() => payloads(agent, FLEET).includes('config: rate 5'), WAIT_MS, 'the config reached the agent');
  const same = (name: string): boolean => idsIn(gw, name).join() === idsIn(agent, name).join();
  await until(() => same(own) && same(FLEET), WAIT_MS, 'both scopes converged');
  t.same(idsIn(agent, own), idsIn(gw, own), 'the device scope converged');
  t.same(idsIn(agent, FLEET), idsIn(gw, FLEET), 'the fleet scope converged');
}

t.test('tcp-listen ↔ tcp', (t) => scenario(t, {
  gateway: (gw) => attachTransport('tcp-listen://127.0.0.1:0', gw, fast),
  agent: (agent, _gw, g) => attachTransport(`tcp://127.0.0.1:${g.localPort}`, agent, fast),
}));

const mosquittoBin = findBin('mosquitto');
t.test('mqtt via a real mosquitto (dial + dial)', { skip: mosquittoBin === '' ? missing('mosquitto') : false }, async (t) => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-mosq-v2-'));
  const broker = startMosquitto(mosquittoConf(dir, port), port);
  await broker.start();
  await scenario(t, {
    gateway: (gw, agent) => attachTransport(`mqtt://127.0.0.1:${port}/${agent.peerId}`, gw, fast),
    agent: (agent, gw) => attachTransport(`mqtt://127.0.0.1:${port}/${gw.peerId}`, agent, fast),
    async teardown() {
      await broker.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  });
});

t.test('serial via the simulated binding', async (t) => {
  const registry = new SimRegistry();
  const sim = createSimLink({ pathA: '/dev/simA', pathB: '/dev/simB', registry, baudRate: 1_000_000 });
  const binding = createSimBinding(registry);
  await scenario(t, {
    gateway: (gw) => attachTransport('serial:/dev/simA?baud=1000000', gw, { ...fast, binding }),
    agent: (agent) => attachTransport('serial:/dev/simB?baud=1000000', agent, { ...fast, binding }),
    teardown: async () => sim.dispose(),
  });
});

const socatBin = findBin('socat');
t.test('serial via a socat pty pair', { skip: socatBin === '' ? missing('socat') : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-pty-v2-'));
  const [x1, x2] = [join(dir, 'x1'), join(dir, 'x2')];
  const child: ChildProcess = spawn(socatBin, ['-d', '-d', `pty,raw,echo=0,link=${x1}`, `pty,raw,echo=0,link=${x2}`], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !(existsSync(x1) && existsSync(x2)); i++) await sleep(10);
  await scenario(t, {
    gateway: (gw) => attachTransport(`serial:${x1}?baud=115200`, gw, fast),
    agent: (agent) => attachTransport(`serial:${x2}?baud=115200`, agent, fast),
    async teardown() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  });
});
