/**
 * CRC-32 (protocol/crc32.ts): the portable table implementation equals zlib's native one on
 * random inputs, continuation included; both give the catalogue check value; and the product
 * runs where `node:zlib` has no `crc32` (Node < 20.15, e.g. Raspberry Pi OS armv7 on 20.11).
 *
 * That last part runs the built CLI (dist/) in a child Node whose `zlib.crc32` is deleted by a
 * `--require` preload before any ESM module sees `node:zlib`. On the old code (a named
 * `import { crc32 } from 'node:zlib'` in serial-frame.ts and log-format.ts) the demo then dies
 * with "crc32 is not a function" at its first frame; on a real Node 20.0–20.14 the same import
 * fails the whole module graph at load, which `.ci/run` checks with Node 20.0.0 itself.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import t from 'tap';
import { crc32, crc32IsNative, crc32Portable } from '../protocol/crc32.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const native = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
const ascii = (s: string) => new TextEncoder().encode(s);

t.test('check value and edge cases', async (t) => {
  t.equal(crc32Portable(ascii('123456789')), 0xcbf43926, 'CRC-32/ISO-HDLC check value (portable)');
  t.equal(crc32(ascii('123456789')), 0xcbf43926, 'check value (the exported function)');
  t.equal(crc32Portable(new Uint8Array(0)), 0, 'the CRC of nothing is 0');
  t.equal(crc32Portable(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef, 'continuing over nothing keeps the value');
  t.equal(crc32Portable(ascii('56789'), crc32Portable(ascii('1234'))), 0xcbf43926, 'continuation over a split input');
  const ones = new Uint8Array(64).fill(0xff);
  t.ok(crc32Portable(ones) >= 0 && crc32Portable(ones) <= 0xffffffff, 'unsigned 32-bit result');
  t.equal(crc32IsNative, typeof native === 'function', 'crc32IsNative says which one is in use');
});

t.test('portable equals native zlib on random inputs, continuation included', { skip: typeof native !== 'function' && 'this Node has no zlib.crc32' }, async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), fc.uint8Array({ maxLength: 512 }), fc.nat({ max: 0xffffffff }), (a, b, seed) => {
      const whole = new Uint8Array(a.length + b.length);
      whole.set(a);
      whole.set(b, a.length);
      if (crc32Portable(a) !== native!(a)) return false;
      if (crc32Portable(b, seed) !== native!(b, seed)) return false;
      return crc32Portable(b, crc32Portable(a)) === crc32Portable(whole) && crc32Portable(whole) === native!(whole);
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 random (a, b, seed) triples agree');
  // Node Buffers (pooled, with a byteOffset) are what the product passes.
  const pooled = Buffer.from('xx123456789').subarray(2);
  t.equal(crc32Portable(pooled), native!(pooled), 'a Buffer view with a byteOffset');
});

t.test('the CLI runs where node:zlib has no crc32', async (t) => {
  const main = join(ROOT, 'dist/agent/cli/main.js');
  if (!existsSync(main)) {
    t.fail('dist/ is missing: run `make build` (or `npx tsc -p tsconfig.json`) first');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-crc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const preload = join(dir, 'no-zlib-crc32.cjs');
  // Stands in for Node < 20.15: the builtin exports no crc32 before any ESM module imports it.
  writeFileSync(preload, "delete require('node:zlib').crc32;\n");
  const probe = `const m = await import(${JSON.stringify(join(ROOT, 'dist/protocol/crc32.js'))}); process.stdout.write(JSON.stringify({ native: m.crc32IsNative, check: m.crc32(new TextEncoder().encode('123456789')) }));`;
  const p = await runNode(['--require', preload, '--input-type=module', '-e', probe]);
  t.equal(p.code, 0, p.stderr);
  t.same(JSON.parse(p.stdout || '{}'), { native: false, check: 0xcbf43926 }, 'the fallback is chosen and is right');

  // The demo frames every serial message (CRC-32) and the gateway's disk store checks a CRC per record.
  const demo = await runNode(['--require', preload, main, 'demo', '-n', '2', '-q']);
  t.equal(demo.code, 0, `demo without zlib.crc32: ${demo.stderr.slice(-1500)}`);
  t.match(demo.stdout, /^converged: \d+ peers, \d+ commands/m);
});

function runNode(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    // tap's NODE_OPTIONS loaders would import node:zlib before the preload runs.
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
