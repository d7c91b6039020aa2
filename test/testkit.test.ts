/**
 * The testkit's own guarantees: product code (agent/, protocol/, firmware-sim/) never imports
 * testkit/, test/, bench/ or scripts/, and the testkit never imports a test; the seeded PRNGs keep
 * the sequences that fixtures and the chaos figures were made with; the waits time out as stated.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytes, int, mulberry32, pick, prng, xorshift32 } from '../testkit/prng.js';
import { until, waitFor } from '../testkit/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every .ts file under `dir` (relative to the repository root). */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.isFile() && e.name.endsWith('.ts') ? [join(ROOT, path)] : [];
  });
}

/** Top-level folders `file` imports from (relative specifiers, static and dynamic). */
function importedFolders(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out = new Set<string>();
  for (const m of src.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = relative(ROOT, resolve(file, '..', m[1]!));
    out.add(target.split('/')[0]!);
  }
  return [...out];
}

t.test('layering: product code never reaches into testkit, tests, benches or scripts', async (t) => {
  const bad: string[] = [];
  for (const dir of ['agent', 'protocol', 'firmware-sim']) {
    for (const f of sources(dir)) {
      for (const top of importedFolders(f)) if (['testkit', 'test', 'bench', 'scripts'].includes(top)) bad.push(`${relative(ROOT, f)} → ${top}/`);
    }
  }
  t.same(bad, [], 'no product file imports them');
  t.ok(importedFolders(join(ROOT, 'agent/sync/engine-v2.ts')).includes('protocol'), 'the scan sees imports (engine-v2.ts imports protocol/)');
  const fromKit = sources('testkit').flatMap((f) => importedFolders(f).filter((top) => top === 'test').map(() => relative(ROOT, f)));
  t.same(fromKit, [], 'the testkit imports no test');
});

t.test('prng: the sequences fixtures and figures were made with', async (t) => {
  const u32s = (r: () => number, n: number): number[] => Array.from({ length: n }, () => Math.round(r() * 2 ** 32));
  t.same(u32s(mulberry32(42), 3), [2581720956, 1925393290, 3661312704], 'mulberry32 (randomDag, index-memory)');
  t.same(u32s(xorshift32(0xc0ffee), 3), [4170923632, 1979402906, 2309528846], 'xorshift32 (the chaos fuzz)');
  t.same(u32s(xorshift32(0), 2), u32s(xorshift32(1), 2), 'xorshift32 takes seed 0 as 1');
  // Every helper draws exactly once per call (bytes: once per byte), so mixing them keeps a sequence.
  const a = mulberry32(7);
  const b = mulberry32(7);
  int(a, 10);
  pick(a, ['x', 'y']);
  bytes(a, 3);
  b();
  b();
  b();
  b();
  b();
  t.equal(a(), b(), 'int, pick and bytes drew 1 + 1 + 3 numbers');
  const p = prng(7);
  const q = mulberry32(7);
  t.same([p.int(10), p.chance(0.5), p.u32()], [Math.floor(q() * 10), q() < 0.5, Math.floor(q() * 2 ** 32)], 'Prng is the helpers over mulberry32');
  t.throws(() => pick(a, []), RangeError, 'no pick from an empty list');
});

t.test('wait: until throws naming what it waited for; waitFor resolves false', async (t) => {
  await t.rejects(until(() => false, 30, 'the impossible', 5), /timed out after 30 ms: the impossible/);
  let n = 0;
  t.ok((await until(() => ++n >= 3, 1000, 'three polls', 0)) >= 0, 'resolves with the elapsed time');
  t.equal(await waitFor(() => false, 30, 5), false);
  t.equal(await waitFor(() => true, 0), true, 'a condition already true holds even with no time');
});
