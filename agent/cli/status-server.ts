/**
 * Compatibility layer over the local HTTP API (agent/api/): the status socket now speaks HTTP
 * (served by `startApiServer`), and {@link askStatusSocket} keeps the old JSON-line request
 * shapes for callers not yet moved to agent/api/api-client.ts:
 *
 * - `{op:'status'}` → `GET /v1/status` → `{ok:true, status}`
 * - `{op:'commit', payload:'<hex>'}` → `POST /v1/commands` → `{ok:true, id}` once durable
 *
 * An agent's refusal becomes `{ok:false, error, reason}` with the old reason strings
 * (`disk-full` for `disk_full`; other API reasons as they are).
 * @deprecated use apiRequest from agent/api/api-client.ts.
 */
import { fromHex } from '../../protocol/keys.js';
import { ApiAnswerError, apiRequest } from '../api/api-client.js';
import type { Snapshot } from './snapshot.js';

/** The old answer shape. */
export interface StatusAnswer {
  ok: boolean;
  error?: string;
  reason?: string;
  status?: Snapshot;
  id?: string;
}

/** API reasons whose old (JSON-line protocol) spelling differs. */
const OLD_REASONS: Readonly<Record<string, string>> = { disk_full: 'disk-full' };

/**
 * Send one old-style request to the agent at the socket `path`.
 * @throws ApiUnavailableError (`code` `ENOENT`/`ECONNREFUSED`) when no agent listens there;
 *   Error (`ETIMEDOUT`) when none answers within `timeoutMs`.
 */
export async function askStatusSocket(path: string, request: { op?: unknown; payload?: unknown }, timeoutMs = 10000): Promise<StatusAnswer> {
  const target = { socketPath: path };
  try {
    if (request.op === 'status') {
      const r = await apiRequest(target, 'GET', '/v1/status', { timeoutMs });
      return { ok: true, status: r.json as Snapshot };
    }
    if (request.op === 'commit' && typeof request.payload === 'string') {
      const r = await apiRequest(target, 'POST', '/v1/commands', { body: fromHex(request.payload), contentType: 'application/octet-stream', timeoutMs });
      return { ok: true, id: (r.json as { id: string }).id };
    }
  } catch (err) {
    if (err instanceof ApiAnswerError) return { ok: false, error: err.message, reason: OLD_REASONS[err.reason] ?? err.reason };
    throw err;
  }
  return { ok: false, error: `unknown request ${JSON.stringify(request.op)}` };
}
