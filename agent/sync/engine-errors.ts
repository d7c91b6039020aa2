/** Errors the engine's facade throws to its callers. */

/** A commit (or another call that needs a running engine) after `close()`. */
export class EngineClosedError extends Error {
  override readonly name = 'EngineClosedError';
  /** Reason code: the engine was closed (the agent is shutting down). */
  readonly reason = 'closed';
  constructor() {
    super('engine is closed');
  }
}
