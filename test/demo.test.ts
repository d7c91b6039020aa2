/**
 * The v1 demo (`syncwire demo --protocol 1`; protocol 2 is the default, test/demo-v2.test.ts) in
 * miniature: the compiled CLI runs the whole system (in-process broker, gateway,
 * serial/MQTT/TCP agents, simulated device) and must converge, print the one-line summary last,
 * exit 0, and exit by itself (no dangling handles). Build first: `npx tsc -p tsconfig.json`.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const MAIN = resolve('dist/agent/cli/main.js');
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json)`);

// The child runs without tap's per-process instrumentation.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_')));

function demo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [MAIN, 'demo', '--protocol', '1', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    // Generous: the demo must also exit on its own once done (a hang fails here).
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`demo did not exit\n${stdout}\n${stderr}`));
    }, 45000);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const FINAL = /^converged: 4 peers, (\d+) commands, heads [0-9a-f]{8}( [0-9a-f]{8})*$/;

t.test('demo converges over serial, MQTT and TCP and exits 0', async (t) => {
  const r = await demo(['--seconds', '4']);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const last = lines[lines.length - 1]!;
  const m = FINAL.exec(last);
  t.ok(m, `final line: ${last}`);
  // 4 engines commit at least 2 each, the device at least 1 telemetry reading.
  t.ok(Number(m?.[1]) >= 9, 'every side committed');
  t.equal(lines.filter((l) => l.startsWith('converged:')).length, 1, 'exactly one converged line');
  for (const who of ['gateway', 'serial-agent', 'mqtt-agent', 'tcp-agent', 'device']) t.match(r.stdout, `[${who}] link up`, `${who} connected`);
  t.match(r.stdout, /\[(serial|mqtt)-agent\] pushed \d+ commands? → gateway/, 'pushes are shown');
  t.match(r.stdout, /\[gateway\] pushed \d+ commands? → (serial|mqtt)-agent/, 'the gateway bridges pushes');
  t.match(r.stdout, /\[tcp-agent\] polled \d+ commands? ← gateway/, 'polls are shown');
  t.match(r.stdout, /\[gateway\] polled \d+ commands? ← device/, 'the gateway polls the firmware device');
  t.match(r.stdout, /\[device\] order for me/, 'orders reach the device over its UART');
  t.notMatch(r.stderr, 'dangling handles', 'exits by itself');
});

t.test('--quiet prints only the final line', async (t) => {
  const r = await demo(['--seconds', '2', '--quiet']);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.equal(lines.length, 1, r.stdout);
  t.match(lines[0], FINAL);
});
