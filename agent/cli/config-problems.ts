/**
 * What exactly is wrong with a config that failed the generated check: TypeBox's errors with
 * their JSON paths, in the words of the schema's `expected` annotations. Loaded only when a
 * config is invalid (config.ts), so a running agent never loads TypeBox.
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { ValueError } from '@sinclair/typebox/errors';
import { semanticProblems, show, type Problem } from './config.js';
import { ConfigFile } from './config-schema.js';

const validator = TypeCompiler.Compile(ConfigFile);

/**
 * Schema problems of a config object; when there are none, the checks a schema cannot express
 * (config.ts `semanticProblems`: power of two, listen port, `api.listen` without `api.tokenFile`).
 */
export function explainConfig(value: unknown): Problem[] {
  const out: Problem[] = [];
  for (const e of validator.Errors(value)) explain(e, out);
  if (out.length === 0) out.push(...semanticProblems(value as ConfigFile));
  // Dedupe: a union reports once per branch.
  return out.filter((p, i) => out.findIndex((q) => q.path === p.path && q.text === p.text) === i);
}


function explain(e: ValueError, out: Problem[]): void {
  // An object given where "object or false" is allowed: report inside the object branch.
  if (e.errors.length > 0 && typeof e.value === 'object' && e.value !== null && !Array.isArray(e.value)) {
    for (const branch of e.errors) {
      const inner = [...branch];
      if (inner.length > 0 && inner.every((x) => x.path.startsWith(e.path + '/'))) {
        for (const x of inner) explain(x, out);
        return;
      }
    }
  }
  if (e.message === 'Unexpected property') {
    out.push({ path: e.path, text: `unknown field (allowed: ${allowedAt(e.path).join(', ')})` });
    return;
  }
  const expected = (e.schema as TSchema & { expected?: string }).expected ?? e.message.replace(/^Expected /, '');
  out.push({ path: e.path, text: e.value === undefined ? `missing; expected ${expected}` : `expected ${expected}, got ${show(e.value)}` });
}

/** Field names allowed in the object holding `path` (for "unknown field" messages). */
function allowedAt(path: string): string[] {
  let schema: TSchema = ConfigFile;
  for (const raw of path.split('/').slice(1, -1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~'); // JSON pointer escapes (a retention key "device/*")
    const extra = typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as TSchema) : undefined;
    const next: TSchema | undefined = schema.properties?.[seg] ?? schema.anyOf?.find((s: TSchema) => s.properties)?.properties?.[seg] ?? extra;
    if (next === undefined) return [];
    schema = next.anyOf?.find((s: TSchema) => s.properties) ?? next;
  }
  return Object.keys(schema.properties ?? {});
}
