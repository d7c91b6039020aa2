/**
 * `syncwire demo` on protocol v2 (the default): the compiled CLI runs gateway, agents and v2
 * devices in one process; every scope converges, the three isolation checks pass, the verdict
 * lines come last, exit 0, and the process exits by itself. The verdicts themselves are checked
 * in process against a built world: a failed check says FAILED. Build first: `npx tsc -p tsconfig.json`.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { encodeCbor } from '../protocol/cbor.js';
import { silentLogger } from '../agent/node/log.js';
import { flowVerdicts, scopeVerdicts } from '../agent/cli/demo-v2-checks.js';
import { DEMO_FLEET, buildWorldV2 } from '../agent/cli/demo-v2-world.js';
import { until } from '../testkit/wait.js';

const MAIN = resolve('dist/agent/cli/main.js');
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json)`);

// The child runs without tap's per-process instrumentation.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_')));

function demo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [MAIN, 'demo', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    // Generous: the demo must also exit on its own once done (a hang fails here).
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`demo did not exit\n${stdout}\n${stderr}`));
    }, 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

const SCOPE = /^scope (device\/[0-9a-f]{16}|fleet\/demo): converged, (\d) members \(([^)]*)\), heads [0-9a-f]{8}( [0-9a-f]{8})*$/;
const CHECKS = [
  /^check orders reached only their device: ok \(2 orders\)$/,
  /^check telemetry reached only the gateway: ok \(\d+ readings\)$/,
  /^check fleet config reached everyone: ok \(3 agents, 2 devices\)$/,
];
const SUMMARY = /^converged: 6 peers, \d+ commands, heads [0-9a-f]{8}( [0-9a-f]{8})* in 3 scopes, every check ok$/;

/** The last 7 lines: 3 scope verdicts, 3 checks, the summary. */
function verdictLines(t: Test, stdout: string): void {
  const lines = stdout.trimEnd().split('\n');
  const last = lines.slice(-7);
  const scopes = last.slice(0, 3).map((l) => SCOPE.exec(l));
  t.ok(scopes.every((m) => m !== null), `three scope verdicts, all converged:\n${last.slice(0, 3).join('\n')}`);
  t.same(scopes.map((m) => m?.[1]?.split('/')[0]), ['device', 'device', 'fleet'], 'both device scopes and the fleet scope');
  t.same(scopes.map((m) => m?.[2]), ['2', '2', '6'], 'a device scope has gateway and its device; the fleet scope all six');
  t.match(scopes[2]?.[3], 'gateway, serial-agent, mqtt-agent, tcp-agent, device-1, device-2');
  for (const [i, re] of CHECKS.entries()) t.match(last[3 + i], re);
  t.match(last[6], SUMMARY);
}

t.test('the v2 demo converges every scope, passes the checks and exits 0', async (t) => {
  const r = await demo(['--seconds', '4']);
  t.equal(r.code, 0, r.stderr);
  verdictLines(t, r.stdout);
  for (const who of ['serial-agent', 'mqtt-agent', 'tcp-agent', 'device-1', 'device-2']) t.match(r.stdout, `[gateway] link up ⇄ ${who}`, `${who} connected`);
  t.match(r.stdout, /\[gateway\] commits order \["led",0\] in device\/[0-9a-f]{16} \(device-1\)/, 'the order line names its scope');
  t.match(r.stdout, /\[device-1\] order for me: \["led",0\]/, 'the order reached device-1');
  t.match(r.stdout, /\[device-2\] order for me: \["led",1\]/, 'the order reached device-2');
  t.match(r.stdout, /\[gateway\] received \d+ commands? in device\/[0-9a-f]{16} \(device-1\) ← device-1/, 'telemetry at the gateway, scope named');
  t.match(r.stdout, /\[gateway\] commits fleet config .* in fleet\/demo/);
  for (const who of ['serial-agent', 'mqtt-agent', 'tcp-agent']) t.match(r.stdout, `[${who}] received 1 command in fleet/demo ← gateway`, `${who} got the fleet scope`);
  t.notMatch(r.stdout, /\[(serial|mqtt|tcp)-agent\] received .* in device\//, 'no agent received a device scope command');
  t.notMatch(r.stderr, 'dangling handles', 'exits by itself');
});

t.test('--quiet prints only the verdict lines', async (t) => {
  const r = await demo(['--seconds', '2', '--quiet']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trimEnd().split('\n').length, 7, r.stdout);
  verdictLines(t, r.stdout);
});

t.test('--protocol other than 2 is a usage error', async (t) => {
  const r = await demo(['--protocol', '3']);
  t.equal(r.code, 2);
  t.match(r.stderr, '--protocol: expected 2, got "3"');
});

t.test('verdicts: converged scopes pass; an order or fleet config that did not arrive fails', async (t) => {
  const w = await buildWorldV2({ telemetryMs: 1000, logger: silentLogger, warn: () => undefined, onEngine: () => undefined, onDevice: () => undefined });
  t.teardown(() => w.close());
  await until(() => w.devices.every((d) => d.device.scopes.filter((s) => s.state === 'held').length === 2) && w.agents.every((a) => a.engine.scope(DEMO_FLEET)?.joining === false), 30_000, 'everyone joined');
  await until(() => scopeVerdicts(w).every((v) => v.ok), 30_000, 'every scope converged');
  t.equal(scopeVerdicts(w).length, 3, 'two device scopes and the fleet scope');
  const d1 = w.devices[0]!;
  const ds = `device/${d1.device.peerId}`;
  const order = await w.gateway.engine.commit(ds, encodeCbor([d1.device.peerId, 'led', 1]));
  const stray = new Uint8Array(32).fill(9); // committed nowhere
  const [orders, telemetry, fleet] = flowVerdicts(w, { orders: [{ device: d1.name, id: stray }], telemetry: [], fleetConfig: null });
  t.match(orders, { ok: false, line: /^check orders reached only their device: FAILED \(09090909 missing at device-1\)$/ });
  t.match(telemetry, { ok: false, line: /no telemetry committed/ });
  t.match(fleet, { ok: false, line: /never committed/ });
  await until(() => d1.device.deviceScope.retains(order), 30_000, 'the order at device-1');
  const cfg = await w.gateway.engine.commit(DEMO_FLEET, encodeCbor(['config', 1]));
  const sample = d1.device.sample()!;
  const ledger = { orders: [{ device: d1.name, id: order }], telemetry: [{ device: d1.name, id: sample.id }], fleetConfig: cfg };
  await until(() => flowVerdicts(w, ledger).every((v) => v.ok), 30_000, 'the checks pass');
  t.ok(scopeVerdicts(w).find((v) => v.line.startsWith(`scope ${ds}:`)), 'the device scope has its verdict');
  // The same order claimed for device-2 did not reach it (and is at device-1, which is not its device).
  const [wrong] = flowVerdicts(w, { ...ledger, orders: [{ device: w.devices[1]!.name, id: order }] });
  t.match(wrong, { ok: false, line: /missing at device-2; .* at device-1/ });
});
