/**
 * The API host of a protocol-2 agent (contract: session 7; design v2-scopes.md §6.2): commits and
 * streams take a `scope` (name or 64-hex id; default `scopes.default`, else the only scope held),
 * `GET /v1/scopes` lists the scopes held, `GET /v1/commands/<id>` looks in every scope. Status,
 * readiness and reload answer as v1's host does; `/metrics` is agent/api/metrics-v2.ts (per-scope
 * series, at most 256 scopes plus `_other`).
 */
import { ApiError } from '../api/api-error.js';
import type { ApiHost } from '../api/api-host.js';
import { renderMetricsV2 } from '../api/metrics-v2.js';
import { sendError, toApiError } from '../api/respond.js';
import { writeScopeStream } from '../api/scope-stream.js';
import { SyncwireError } from '../../protocol/errors.js';
import type { Logger } from '../node/log.js';
import { NodeScopes, ScopeError } from './node-scopes.js';
import { rolesText } from './scope-info.js';
import { changeKey, changeMembers, membershipApiError, parseMemberChanges } from './scope-members.js';
import { scopeInfos, type SnapshotV2 } from './snapshot-v2.js';
import { TrustFileError } from './trust-file.js';
import type { TrustReload } from './trust-reload.js';

/** What {@link agentApiHostV2} answers from. */
export interface AgentHostPartsV2 {
  scopes: NodeScopes;
  snapshot(): SnapshotV2;
  checks(): Record<string, boolean>;
  reload(): TrustReload;
  /** Aborted when the agent shuts down: follow streams end, commits are refused. */
  closing: AbortSignal;
  log: Logger;
}

/** A {@link ScopeError} (or the engine's UnknownScope) as the API's answer; others pass through. */
export function scopeApiError(err: unknown): unknown {
  if (err instanceof ScopeError) {
    const reason = err.reason === 'scope_required' ? 'bad_request' : err.reason === 'read_only' ? 'read_only' : 'not_found';
    return ApiError.of(reason, err.message);
  }
  if (err instanceof SyncwireError && err.reason === 'UnknownScope') return ApiError.of('not_found', err.message);
  return err;
}

/** Build the host. */
export function agentApiHostV2(p: AgentHostPartsV2): ApiHost {
  const { scopes } = p;
  return {
    status: () => p.snapshot(),
    commit: async (payload, scope) => {
      if (p.closing.aborted) throw ApiError.of('closing', 'the agent is shutting down');
      try {
        return await scopes.commit(payload, scope);
      } catch (err) {
        throw scopeApiError(err);
      }
    },
    streamCommands: (_req, res, query) => {
      let feed;
      try {
        feed = scopes.feed(scopes.resolve(query.get('scope') ?? undefined));
      } catch (err) {
        sendError(res, toApiError(scopeApiError(err), p.log, 'command stream'));
        return;
      }
      writeScopeStream(res, feed, query, { signal: p.closing }).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, toApiError(err, p.log, 'command stream'));
        else p.log.warn({ err: String(err) }, 'command stream cut by a store failure');
      });
    },
    showCommand: (idHex) => scopes.show(idHex),
    metrics: () => renderMetricsV2(p.snapshot()),
    ready: () => {
      const checks = p.checks();
      return { ok: Object.values(checks).every(Boolean), checks };
    },
    scopes: () => ({ scopes: scopeInfos(scopes.engine, scopes.legacy) }),
    changeMembers: async (body, scope) => {
      if (p.closing.aborted) throw ApiError.of('closing', 'the agent is shutting down');
      const changes = parseMemberChanges(body);
      try {
        const done = await changeMembers(scopes, changes, scope);
        p.log.info({ scope: done.scope, changes: changes.map((c) => ({ key: changeKey(c), roles: rolesText(c.roles) })) }, 'scope membership changed');
        return done;
      } catch (err) {
        throw membershipApiError(scopeApiError(err));
      }
    },
    reload: () => {
      try {
        return Promise.resolve({ ok: true, ...p.reload() });
      } catch (err) {
        if (err instanceof TrustFileError) throw ApiError.of('bad_request', err.message, { line: err.line });
        throw err;
      }
    },
  };
}
