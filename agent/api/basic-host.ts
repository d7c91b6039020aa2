/**
 * The API host a running agent starts with (agent/cli/run-node.ts): status and commit from the
 * engine; metrics, the command stream, `show` and reload answer 501 `not_implemented` until
 * their parts are wired in. Readiness is "the store is open" (it is, once this exists).
 */
import { toHex } from '../../protocol/keys.js';
import type { Engine } from '../sync/engine.js';
import { ApiError } from './api-error.js';
import type { ApiHost } from './api-host.js';

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
      let id: Uint8Array;
      try {
        id = await engine.commit(payload);
      } catch (err) {
        // The engine refuses with a plain Error once closed (no reason code of its own).
        if (err instanceof Error && err.message === 'engine is closed') throw ApiError.of('closing', 'the agent is shutting down');
        throw err;
      }
      const hex = toHex(id);
      return { id, cursor: `${engine.store.indexOf(id)}-${hex.slice(0, 16)}` };
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
