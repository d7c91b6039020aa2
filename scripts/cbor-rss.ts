/**
 * Memory cost of the two CBOR decoders (README, "CBOR codec"): each measurement runs in a fresh
 * Node process, reading VmRSS from /proc/self/status (process.memoryUsage().rss reads 0 under
 * qemu-user) before the import, after it, and after decoding every `messages.json` vector 2,000
 * times. Run after a build: `node dist/scripts/cbor-rss.js [runs]`. Linux only.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { repoRoot } from './repo-root.js';

/** One process's figures, MB. */
export interface RssFigures {
  which: 'own' | 'cbor-x';
  base: number;
  import: number;
  afterUse: number;
}

const rssMb = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN) / 1024;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

async function child(which: 'own' | 'cbor-x'): Promise<void> {
  const cases = (JSON.parse(readFileSync(join(repoRoot(), 'docs', 'vectors', 'messages.json'), 'utf8')) as { cases: Array<{ cbor: string }> }).cases;
  const bodies = cases.map((c) => Uint8Array.from(Buffer.from(c.cbor, 'hex')));
  gc();
  const base = rssMb();
  let decode: (b: Uint8Array) => unknown;
  if (which === 'own') {
    const m = await import('../protocol/cbor.js');
    decode = (b) => m.decodeCbor(b);
  } else {
    const m = await import('cbor-x');
    const d = new m.Decoder({ useRecords: false, mapsAsObjects: false, copyBuffers: true });
    decode = (b) => d.decode(b);
  }
  const imported = rssMb();
  for (let i = 0; i < 2000; i++) for (const b of bodies) decode(b);
  gc();
  const used = rssMb();
  const r: RssFigures = { which, base, import: imported - base, afterUse: used - base };
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

function main(): void {
  const runs = Number(process.argv[2] ?? 3);
  const self = fileURLToPath(import.meta.url);
  const all: RssFigures[] = [];
  for (let i = 0; i < runs; i++) {
    for (const which of ['own', 'cbor-x'] as const) {
      const out = execFileSync(process.execPath, ['--expose-gc', self, 'child', which], { encoding: 'utf8' });
      all.push(JSON.parse(out) as RssFigures);
    }
  }
  const range = (w: string, k: 'import' | 'afterUse'): string => {
    const xs = all.filter((r) => r.which === w).map((r) => r[k]);
    return `+${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} MB`;
  };
  for (const w of ['own', 'cbor-x']) console.log(`${w.padEnd(7)} import ${range(w, 'import')}, after ${bodies()} decodes ${range(w, 'afterUse')} (${runs} runs)`);
}

function bodies(): number {
  return 2000 * (JSON.parse(readFileSync(join(repoRoot(), 'docs', 'vectors', 'messages.json'), 'utf8')) as { cases: unknown[] }).cases.length;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === 'child') void child(process.argv[3] === 'own' ? 'own' : 'cbor-x');
  else main();
}
