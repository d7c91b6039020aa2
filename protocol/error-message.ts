/**
 * The one builder of wire `Error` messages (PROTOCOL.md §8.10, §14): the agent and the device both send
 * through it, so the text limit of the schema is applied in one place.
 */
import { MAX_ERROR_TEXT } from './constants.js';
import { ReasonCode, type ReasonName } from './errors.js';
import type { ErrorMessage } from './messages-v2.js';

/**
 * An `Error` message for `reason`. `text` is cut to {@link MAX_ERROR_TEXT} UTF-16 units (the
 * schema's limit), and a surrogate pair the cut splits becomes U+FFFD: a lone surrogate is not
 * valid UTF-8 and would not encode. `retryAfterMs` defaults to null (no hint).
 */
export function errorMessage(reason: ReasonName, text: string, retryAfterMs: number | null = null): ErrorMessage {
  return { type: 'Error', code: ReasonCode[reason], message: text.slice(0, MAX_ERROR_TEXT).toWellFormed(), retry_after_ms: retryAfterMs };
}
