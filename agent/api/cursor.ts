/**
 * Stream cursors (api.md §Cursor): `<handle>-<first 16 hex of the id>`, where the handle is the
 * command's 0-based position in the store's log (stable across restarts) and the id prefix lets
 * a resume notice a store that renumbered (salvaged or rewrote its log) instead of silently
 * skipping or repeating commands. The keyword `end` is not a cursor; the feed handles it.
 */

/** Hex characters of the id prefix a cursor carries. */
export const CURSOR_ID_HEX = 16;

/** Largest handle a cursor may name: handles are array indexes, so 2^32 - 2 at most. */
const MAX_HANDLE = 0xffff_fffe;

/** Decimal without leading zeros, '-', exactly 16 lowercase hex digits. */
const CURSOR_RE = /^(0|[1-9][0-9]{0,9})-([0-9a-f]{16})$/;

/** Why a cursor was refused. */
export type CursorReason =
  /** Not of the cursor syntax (HTTP 400 `bad_request`). */
  | 'cursor_syntax'
  /** Well formed, but this store holds no command at that handle with that id prefix (HTTP 410 `cursor_unknown`). */
  | 'cursor_unknown';

/** A refused cursor, with the reason the API maps to a status. */
export class CursorError extends Error {
  override readonly name = 'CursorError';
  constructor(
    readonly reason: CursorReason,
    message: string,
  ) {
    super(message);
  }
}

/** A parsed cursor. */
export interface Cursor {
  /** Position in the store's log. */
  handle: number;
  /** First {@link CURSOR_ID_HEX} lowercase hex characters of the command's id. */
  idPrefix: string;
}

/**
 * The cursor of the command at `handle` whose id is `id` (32 bytes, or its hex).
 * @throws RangeError when the handle is not a valid index or the id is shorter than 8 bytes.
 */
export function formatCursor(handle: number, id: Uint8Array | string): string {
  if (!Number.isInteger(handle) || handle < 0 || handle > MAX_HANDLE) throw new RangeError(`not a store handle: ${handle}`);
  const hex = typeof id === 'string' ? id.slice(0, CURSOR_ID_HEX).toLowerCase() : Buffer.from(id.buffer, id.byteOffset, Math.min(id.length, CURSOR_ID_HEX / 2)).toString('hex');
  if (!/^[0-9a-f]{16}$/.test(hex)) throw new RangeError('a cursor needs the first 8 bytes of the id');
  return `${handle}-${hex}`;
}

/**
 * Parse a cursor, strictly: no sign, no leading zeros, no whitespace, no upper case hex.
 * @throws CursorError `cursor_syntax` on anything else (including `end`, which the feed handles).
 */
export function parseCursor(text: string): Cursor {
  const m = CURSOR_RE.exec(text);
  const handle = m ? Number(m[1]) : NaN;
  if (!m || handle > MAX_HANDLE) {
    const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
    throw new CursorError('cursor_syntax', `not a cursor: ${JSON.stringify(shown)} (expected <handle>-<16 hex>, or end)`);
  }
  return { handle, idPrefix: m[2]! };
}
