/**
 * `syncwire sim --protocol 2`: firmware-sim v2 devices, in process on simulated UARTs to a
 * gateway EngineV2 (telemetry, orders and the fleet config all arrive; the run says so), and one
 * device on a real serial path (a socat PTY pair) to an in-process gateway EngineV2 on the
 * serial transport. socat is optional on a dev machine (the --port test is skipped) but
 * required under CI=true (.ci/run installs it). Build first: `npx tsc -p tsconfig.json`.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { attachTransport } from '../agent/node/attach-transport.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { writeKeyFile } from '../agent/cli/keys.js';
import { encodeCbor } from '../protocol/cbor.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import { CliHarness } from '../testkit/cli-proc.js';
import { findBin } from '../testkit/net.js';
import { until } from '../testkit/wait.js';

const cli = new CliHarness();
t.teardown(() => cli.cleanup());

/** Device summary lines of the in-process mode: [name, telemetry at gateway, committed, orders delivered, committed]. */
const DEVICE_LINE = /^(device-\d) [0-9a-f]{16}: \d+ commits, \d+ received, \d+ orders, 0 bad frames, 0 seal failures; up, scopes device\/[0-9a-f]{16}, fleet\/sim; telemetry at gateway (\d+)\/(\d+), orders delivered (\d+)\/(\d+), fleet config received$/;

t.test('in process: two v2 devices on simulated UARTs, everything delivered', async (t) => {
  const r = await cli.run(['sim', '--protocol', '2', '--devices', '2', '--seconds', '3', '--telemetry-ms', '300'], 60_000);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const rows = lines.slice(-3, -1).map((l) => DEVICE_LINE.exec(l));
  t.ok(rows.every((m) => m !== null), `a summary line per device:\n${lines.slice(-3).join('\n')}`);
  t.same(rows.map((m) => m?.[1]), ['device-1', 'device-2']);
  for (const m of rows) {
    t.ok(Number(m?.[3]) >= 1 && m?.[2] === m?.[3], `${m?.[1]}: all ${m?.[3]} readings at the gateway`);
    t.ok(Number(m?.[5]) >= 1 && m?.[4] === m?.[5], `${m?.[1]}: all ${m?.[5]} orders at the device`);
  }
  t.match(lines.at(-1), /^gateway [0-9a-f]{16}: .*; everything delivered$/);
  t.match(r.stdout, /\[gateway\] committed order \["setpoint",\d+\] in device\/[0-9a-f]{16} \(device-1\)/, 'live lines name the scope');
  t.match(r.stdout, /\[device-2\] order for me: \["setpoint",\d+\]/);
  t.match(r.stdout, /\[gateway\] received \d+ commands? in device\/[0-9a-f]{16} \(device-2\) ← device-2/);
});

t.test('usage errors', async (t) => {
  for (const cmd of ['sim', 'demo']) {
    const one = await cli.run([cmd, '--protocol', '1', '--seconds', '1']);
    t.equal(one.code, 2, `${cmd} --protocol 1: a usage error`);
    t.match(one.stderr, 'protocol 1 was removed in 0.2.0: this release speaks protocol 2 only');
  }
  const any = await cli.run(['sim', '--port', '/dev/null', '--trust-any']);
  t.equal(any.code, 2, '--trust-any is gone with the v1 device');
  t.match(any.stderr, '--trust-any');
  const bad = await cli.run(['sim', '--protocol', '3']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, '--protocol: expected 2, got "3"');
});

const SOCAT = findBin('socat');
const CI = process.env.CI === 'true';
if (SOCAT === '' && CI) t.fail('socat is required under CI=true');

t.test('--port over a socat PTY pair to a gateway EngineV2 on the serial transport', { skip: SOCAT === '' && !CI && 'socat not installed' }, async (t) => {
  const dir = cli.tmp('swsim2-');
  const [ttyA, ttyB] = [join(dir, 'ttyA'), join(dir, 'ttyB')];
  const socat = spawn(SOCAT, ['-d', '-d', `pty,raw,echo=0,link=${ttyA}`, `pty,raw,echo=0,link=${ttyB}`], { stdio: 'ignore' });
  t.teardown(() => void socat.kill('SIGKILL'));
  await until(() => existsSync(ttyA) && existsSync(ttyB), 10_000, 'socat made the PTY pair');

  const gi = generateIdentity();
  const di = generateIdentity();
  const keyFile = join(dir, 'device.json');
  writeKeyFile(keyFile, di);
  const gw = await EngineV2.open({ identity: gi, trust: { mode: 'list', keys: [di.publicKey] }, scopes: { max: Infinity, deviceScopes: {} } });
  t.teardown(() => gw.close());
  await gw.createScope({ name: 'fleet/acme', members: [{ publicKey: gi.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  const serial = await attachTransport(`serial:${ttyA}?baud=115200`, gw, { reconnectBaseMs: 50, reconnectMaxMs: 200 });
  t.teardown(() => serial.close());

  const sim = cli.start(['sim', '--protocol', '2', '--port', ttyB, '--trust-key', toHex(gi.publicKey), '--key', keyFile, '--scope-join', 'fleet/acme', '--telemetry-ms', '300']);
  await sim.waitStdout(new RegExp(`^device ${di.peerId} public key ${toHex(di.publicKey)} on .*ttyB at 115200 baud, protocol 2`, 'm'));
  const ds = `device/${di.peerId}`;
  await until(() => gw.scope(ds) !== undefined && gw.sessions().some((s) => s.authenticated), 30_000, 'the device up at the gateway, its device scope created');
  await sim.waitStdout(/\[device\] scope fleet\/acme active/);
  await sim.waitStdout(new RegExp(`\\[device\\] scope ${ds} \\(device\\) active`));
  await gw.commit(ds, encodeCbor([di.peerId, 'reboot']));
  await sim.waitStdout(/\[device\] order for me: \["reboot"\]/);
  await gw.commit('fleet/acme', encodeCbor(['rate', 5]));
  // Genesis and config: two commands received in the fleet scope.
  await sim.waitStdout(/(\[device\] received 1 command in fleet\/acme[^]*){2}/);
  await until(() => (gw.scope(ds)?.store.size ?? 0) >= 5, 30_000, 'three telemetry readings at the gateway (besides genesis and order)');
  const r = await sim.stop('SIGTERM');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout.trimEnd().split('\n').at(-1), new RegExp(`^device ${di.peerId}: \\d+ commits, \\d+ received, 1 orders, 0 bad frames, 0 seal failures; up, scopes ${ds}, fleet/acme$`));
  t.ok(gw.sessions().every((s) => s.stats.badFrames === 0), 'no bad frame at the gateway');
});
