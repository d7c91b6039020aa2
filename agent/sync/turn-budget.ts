/**
 * How much of the event loop a responder's graph walks and push passes may take before they
 * yield (`setImmediate`), so that I/O, timers, other peers and local commits run between chunks
 * of a big walk; and what a walk costs the peer's poll bucket.
 */

/** Commands a walk advances between two checks of the clock. */
export const WALK_CHUNK = 256;
/**
 * Commands a fresh graph walk may visit per token of the peer's poll bucket: a bootstrap walk
 * of a 20,000-command graph costs about 5 tokens (half the default bucket).
 */
export const WALK_COMMANDS_PER_TOKEN = 4096;
/** Most of one event-loop turn a queue spends before yielding, ms. */
export const TURN_BUDGET_MS = 8;
