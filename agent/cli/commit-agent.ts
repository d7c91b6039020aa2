/**
 * `syncwire commit` through a running agent: POST /v1/commands on its API (api-target.ts). The
 * agent signs with its own key and pushes to its subscribers at once. `--stdin` posts one
 * request per line, strictly one after another, so the commands enter the graph in line order
 * and at most one connection is open at a time (the client closes each after its answer).
 *
 * A scope (protocol 2) goes as `?scope=NAME`. Without one the agent uses its `scopes.default`,
 * else the only scope it holds; when neither names one it answers 400 "scope required", which
 * becomes a usage error (exit 2, docs/design/v2-scopes.md §6.1). An unknown scope is 404
 * `not_found` (exit 1), `legacy/v1` 409 `read_only` (exit 1).
 */
import { ApiAnswerError, apiRequest, ApiUnavailableError, type ApiTarget } from '../api/api-client.js';
import { apiFailure } from './api-target.js';
import { EXIT } from './exit-codes.js';
import { contentTypeOf, type InputLine } from './line-reader.js';
import { writeOut } from './stdout.js';

/** What an agent's commit answers (201). */
interface CommitAnswer {
  id: string;
  cursor: string;
}

/**
 * The peer id the agent at `target` signs as, or undefined when no agent answers there.
 * @throws ApiAnswerError / Error when an agent is there but the status request failed.
 */
export async function agentPeerId(target: ApiTarget): Promise<string | undefined> {
  try {
    const r = await apiRequest(target, 'GET', '/v1/status');
    const peerId = (r.json as { peerId?: unknown } | undefined)?.peerId;
    if (typeof peerId !== 'string') throw new Error('the agent answered no peerId in its status');
    return peerId;
  } catch (err) {
    if (err instanceof ApiUnavailableError) return undefined;
    throw err;
  }
}

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

async function post(target: ApiTarget, payload: Uint8Array, contentType: string, scope: string | undefined): Promise<CommitAnswer> {
  const r = await apiRequest(target, 'POST', commitPath(scope), { body: payload, contentType });
  const a = r.json as Partial<CommitAnswer> | undefined;
  if (typeof a?.id !== 'string') throw new Error(`the agent answered ${r.status} without an id`);
  return a as CommitAnswer;
}

/** Commit `payload` (raw bytes) through the agent, to `scope` if given, and print its id; resolves to the exit status. */
export async function commitOneThroughAgent(target: ApiTarget, payload: Uint8Array, scope?: string): Promise<number> {
  try {
    await writeOut((await post(target, payload, 'application/octet-stream', scope)).id + '\n');
    return EXIT.ok;
  } catch (err) {
    const f = scopedFailure(err, target);
    process.stderr.write(`syncwire commit: the agent refused: ${f.message}\n`);
    return f.status;
  }
}

/**
 * Commit every line through the agent, in order, printing each id as it is answered. The first
 * failure stops: it is reported with its line number, the commits before it stay, and the exit
 * status is the failure's (75 when the disk is full, see {@link apiFailure}).
 * @param lines the non-empty input lines; a LineTooLongError from them ends the run with status 1.
 */
export async function commitLinesThroughAgent(target: ApiTarget, lines: AsyncIterable<InputLine>, scope?: string): Promise<number> {
  let done = 0;
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo = line.lineNo;
      await writeOut((await post(target, line.bytes, contentTypeOf(line.bytes), scope)).id + '\n');
      done++;
    }
    return EXIT.ok;
  } catch (err) {
    return reportLineFailure(err, lineNo, done, scopedFailure(err, target));
  }
}

/**
 * Report the failed line on stderr and return the exit status. A LineTooLongError names its own
 * line (the reader failed before yielding it).
 */
export function reportLineFailure(err: unknown, lineNo: number, done: number, f: { message: string; status: number }): number {
  const named = (err as { lineNo?: unknown }).lineNo;
  const n = typeof named === 'number' ? named : lineNo;
  const message = typeof named === 'number' ? (err as Error).message : f.message;
  process.stderr.write(`syncwire commit: line ${n} failed, ${done} command${done === 1 ? '' : 's'} committed before it: ${message}\n`);
  return typeof named === 'number' ? 1 : f.status;
}
