/**
 * The API host of a running agent: what each endpoint of the local HTTP API (agent/api/) answers,
 * assembled from the engine, the status snapshot, the command feed, the metrics renderer, the
 * loop-health monitor and live trust. The server owns listeners, auth, limits and the error shape;
 * this file only answers.
 */
import { ApiError } from '../api/api-error.js';
import type { ApiHost } from '../api/api-host.js';
import { cursorOf, type FeedSource } from '../api/command-feed.js';
import { showCommandJson, writeCommandStream } from '../api/commands-stream.js';
import { fanOut } from '../api/fan-out.js';
import { renderMetrics } from '../api/metrics.js';
import { sendError, toApiError } from '../api/respond.js';
import type { Logger } from '../node/log.js';
import type { Engine } from '../sync/engine.js';
import type { Snapshot } from './snapshot.js';
import { TrustFileError } from './trust-file.js';
import type { TrustReload } from './trust-reload.js';

/** What {@link agentApiHost} answers from. */
export interface AgentHostParts {
  engine: Engine;
  /** The engine's feed ({@link engineFeed}), shared with the library's iterators. */
  feed: FeedSource;
  snapshot(): Snapshot;
  /** Readiness checks by name, each true when passing (`GET /readyz`). */
  checks(): Record<string, boolean>;
  /** Re-read the trust file (throws TrustFileError on a bad one; nothing changes then). */
  reload(): TrustReload;
  /** Aborted when the agent shuts down: follow streams end cleanly. */
  closing: AbortSignal;
  log: Logger;
}

/**
 * The engine's `commands` event as a feed's `onAdded` hook: one engine listener however many
 * followers wait on the feed (up to 32 streams plus library iterators; an EventEmitter warns
 * past 10). Make one feed per engine and share it.
 */
export function engineFeed(engine: Engine): FeedSource {
  return {
    store: engine.store,
    onAdded: fanOut((listener) => {
      engine.on('commands', listener);
      return () => engine.off('commands', listener);
    }),
  };
}

/** Build the host. */
export function agentApiHost(p: AgentHostParts): ApiHost {
  const { feed } = p;
  return {
    status: () => p.snapshot(),
    commit: async (payload) => {
      if (p.closing.aborted) throw ApiError.of('closing', 'the agent is shutting down');
      const id = await p.engine.commit(payload);
      return { id, cursor: cursorOf(p.engine.store, id) };
    },
    streamCommands: (_req, res, query) => {
      writeCommandStream(res, feed, query, { signal: p.closing }).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, toApiError(err, p.log, 'command stream'));
        else p.log.warn({ err: String(err) }, 'command stream cut by a store failure');
      });
    },
    showCommand: (idHex) => showCommandJson(p.engine.store, idHex),
    metrics: () => renderMetrics(p.snapshot()),
    ready: () => {
      const checks = p.checks();
      return { ok: Object.values(checks).every(Boolean), checks };
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
