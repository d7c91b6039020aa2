/**
 * `syncwire commit` through a running agent: POST /v1/commands on its API (api-target.ts). The
 * agent signs with its own key and pushes to its subscribers at once. `--stdin` posts one
 * request per line, strictly one after another, so the commands enter the graph in line order
 * and at most one connection is open at a time (the client closes each after its answer).
 */
import { apiRequest, ApiUnavailableError, type ApiTarget } from '../api/api-client.js';
import { apiFailure } from './api-target.js';
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

async function post(target: ApiTarget, payload: Uint8Array, contentType: string): Promise<CommitAnswer> {
  const r = await apiRequest(target, 'POST', '/v1/commands', { body: payload, contentType });
  const a = r.json as Partial<CommitAnswer> | undefined;
  if (typeof a?.id !== 'string') throw new Error(`the agent answered ${r.status} without an id`);
  return a as CommitAnswer;
}

/** Commit `payload` (raw bytes) through the agent and print its id; resolves to the exit status. */
export async function commitOneThroughAgent(target: ApiTarget, payload: Uint8Array): Promise<number> {
  try {
    await writeOut((await post(target, payload, 'application/octet-stream')).id + '\n');
    return 0;
  } catch (err) {
    const f = apiFailure(err, target);
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
export async function commitLinesThroughAgent(target: ApiTarget, lines: AsyncIterable<InputLine>): Promise<number> {
  let done = 0;
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo = line.lineNo;
      await writeOut((await post(target, line.bytes, contentTypeOf(line.bytes))).id + '\n');
      done++;
    }
    return 0;
  } catch (err) {
    return reportLineFailure(err, lineNo, done, apiFailure(err, target));
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
