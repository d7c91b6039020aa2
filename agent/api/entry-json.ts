/**
 * One command line as the API and the library show it (README "HTTP API"), and the rule that
 * decides its `json` field: shared by the scope feed (agent/api/scope-entry.ts), which adds
 * `scope` and `kind`, and protocol 1's feed.
 */
import { isUtf8 } from 'node:buffer';

/** One command as the API shows it (api.md; key order as written there). */
export interface CommandEntry {
  /** Resume after this command with `after=<cursor>`. */
  cursor: string;
  /** Command id, 64 lowercase hex. */
  id: string;
  /** Author fingerprint, 16 lowercase hex. */
  author: string;
  /** The author's sequence number. */
  seq: number;
  /** Parent ids, 64 hex each, in the command's (ascending) order. */
  parents: string[];
  /** The payload, base64 (standard alphabet, padded). */
  payload: string;
  /** The payload parsed as JSON; present only when it is valid UTF-8 that parses. */
  json?: unknown;
}

/**
 * Bytes a JSON text may start with after optional whitespace: `{ [ " -`, digits, and the first
 * letters of true, false, null. Checked first so binary payloads cost no failed parse (a thrown
 * exception costs more than the rest of an entry).
 */
const JSON_START = new Uint8Array(256);
for (const c of '{["-0123456789tfn') JSON_START[c.charCodeAt(0)] = 1;

/** The payload as JSON, or `undefined` when it is not valid UTF-8 that parses as JSON (the rule of every feed, v1 and scopes). */
export function payloadJson(payload: Uint8Array): unknown {
  let i = 0;
  while (i < payload.length && (payload[i] === 0x20 || payload[i] === 0x0a || payload[i] === 0x0d || payload[i] === 0x09)) i++;
  // Invalid UTF-8 is refused, not decoded to U+FFFD (which JSON.parse would accept inside a string).
  if (i === payload.length || !JSON_START[payload[i]!] || !isUtf8(payload)) return undefined;
  try {
    return JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
