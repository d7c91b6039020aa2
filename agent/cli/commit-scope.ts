/**
 * `syncwire commit` through a running agent, with an optional scope (protocol 2; contract of
 * session 7): POST /v1/commands?scope=NAME. Without a scope the agent uses its `scopes.default`,
 * else the only scope it holds; when neither names one it answers 400 "scope required", which
 * this turns into a usage error (exit 2, docs/design/v2-scopes.md §6.1). An unknown scope is
 * 404 `not_found` (exit 1: the exit table has no "not found" status), `legacy/v1` 409 `read_only`.
 *
 * The same requests as commit-agent.ts (one per line, strictly in order), which takes no scope;
 * its line-failure report is reused.
 */
import { ApiAnswerError, apiRequest, type ApiTarget } from '../api/api-client.js';
import { apiFailure } from './api-target.js';
import { reportLineFailure } from './commit-agent.js';
import { EXIT } from './exit-codes.js';
import { contentTypeOf, type InputLine } from './line-reader.js';
import { writeOut } from './stdout.js';

/** The request path of a commit to `scope` (undefined: the agent's default). */
export function commitPath(scope: string | undefined): string {
  return scope === undefined ? '/v1/commands' : `/v1/commands?${new URLSearchParams({ scope }).toString()}`;
}

/** {@link apiFailure}, with the agent's "scope required" as a usage error (exit 2) and a hint (commit, tail). */
export function scopedFailure(err: unknown, target: ApiTarget): { message: string; status: number } {
  const f = apiFailure(err, target);
  if (err instanceof ApiAnswerError && err.status === 400 && /scope required/i.test(err.message)) {
    return { message: `${f.message} (give --scope NAME, or set scopes.default in the agent's config)`, status: EXIT.usage };
  }
  return f;
}

async function post(target: ApiTarget, payload: Uint8Array, contentType: string, scope: string | undefined): Promise<string> {
  const r = await apiRequest(target, 'POST', commitPath(scope), { body: payload, contentType });
  const id = (r.json as { id?: unknown } | undefined)?.id;
  if (typeof id !== 'string') throw new Error(`the agent answered ${r.status} without an id`);
  return id;
}

/** Commit `payload` (raw bytes) to `scope` through the agent and print its id; resolves to the exit status. */
export async function commitOneToScope(target: ApiTarget, payload: Uint8Array, scope: string | undefined): Promise<number> {
  try {
    await writeOut((await post(target, payload, 'application/octet-stream', scope)) + '\n');
    return EXIT.ok;
  } catch (err) {
    const f = scopedFailure(err, target);
    process.stderr.write(`syncwire commit: the agent refused: ${f.message}\n`);
    return f.status;
  }
}

/** Commit every line to `scope`, in order, printing each id; the first failure stops (see commit-agent.ts). */
export async function commitLinesToScope(target: ApiTarget, lines: AsyncIterable<InputLine>, scope: string | undefined): Promise<number> {
  let done = 0;
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo = line.lineNo;
      await writeOut((await post(target, line.bytes, contentTypeOf(line.bytes), scope)) + '\n');
      done++;
    }
    return EXIT.ok;
  } catch (err) {
    return reportLineFailure(err, lineNo, done, scopedFailure(err, target));
  }
}
