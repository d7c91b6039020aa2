/**
 * A minimal API host for tests of the server (the agent's own is agent/cli/api-host.ts): status
 * and commit from an engine; metrics, the command stream, `show` and reload answer 501
 * `not_implemented` unless a test overrides them. Readiness is "the store is open".
 */
import { cursorOf } from '../agent/api/command-feed.js';
import type { Engine } from '../agent/sync/engine.js';
import { ApiError } from '../agent/api/api-error.js';
import type { ApiHost } from '../agent/api/api-host.js';

/** What {@link apiHostFor} builds a host from. */
export interface BasicHostSource {
  engine: Engine;
  /** The status snapshot (`GET /v1/status`). */
  snapshot(): object;
}

const notYet = (what: string): ApiError => ApiError.of('not_implemented', `${what} is not available in this build yet`);

/**
 * A host over `engine`: `commit` answers once the store's durability is met, with the command's
 * cursor (`<handle>-<first 16 hex of id>`). A commit after the engine closed is 503 `closing`.
 */
export function apiHostFor(src: BasicHostSource): ApiHost {
  const { engine } = src;
  return {
    status: () => src.snapshot(),
    commit: async (payload) => {
      const id = await engine.commit(payload); // EngineClosedError answers 503 closing (respond.ts)
      return { id, cursor: cursorOf(engine.store, id) };
    },
    streamCommands: () => {
      throw notYet('the command stream');
    },
    showCommand: () => {
      throw notYet('showing a command');
    },
    metrics: () => {
      throw notYet('/metrics');
    },
    ready: () => ({ ok: true, checks: { store: true } }),
    reload: () => Promise.reject(notYet('reload')),
  };
}
