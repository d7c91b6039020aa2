/**
 * agent/sync's layering (ARCHITECTURE.md "The engine: a facade"): no import cycle among its files,
 * type-only imports included (the engine ↔ session ↔ requester cycle must not come back), and no
 * import of a transport, the CLI, the API or a network/serial module.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

const DIR = 'agent/sync';
const files = readdirSync(DIR).filter((f) => f.endsWith('.ts')).map((f) => join(DIR, f));
const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gs;

/** Every module specifier of a file, relative ones resolved to repository paths (`.ts`). */
function importsOf(file: string): string[] {
  const out: string[] = [];
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]!;
    out.push(spec.startsWith('.') ? normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts') : spec);
  }
  return out;
}

const graph = new Map(files.map((f) => [f, importsOf(f)]));

t.test('no import cycle in agent/sync (types included)', async (t) => {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    path.push(f);
    for (const d of graph.get(f) ?? []) {
      if (!graph.has(d)) continue;
      if (state.get(d) === 'open') cycles.push([...path.slice(path.indexOf(d)), d]);
      else if (state.get(d) === undefined) visit(d);
    }
    path.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  t.same(cycles, [], `${files.length} files, ${[...graph.values()].reduce((n, d) => n + d.length, 0)} imports`);
});

t.test('agent/sync imports no transport, CLI, API, network or serial module', async (t) => {
  const bad = [...graph].flatMap(([f, deps]) =>
    deps.filter((d) => /^agent\/(cli|api|transport)\//.test(d) || /^(node:)?(net|tls|dgram)$/.test(d) || /^(mqtt|serialport|@serialport\/)/.test(d)).map((d) => `${f} → ${d}`),
  );
  t.same(bad, []);
});
