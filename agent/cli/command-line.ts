/**
 * One line of GET /v1/commands (api.md): parsing it as the CLI needs it, and `syncwire tail`'s
 * human rendering — `<cursor>  <short id>  <author>  <seq>  <payload>`, the payload as compact
 * JSON when it parses as JSON, else as text when it is printable UTF-8 on one line, else as
 * `base64:<base64>`.
 */
import type { CommandEntry } from '../api/entry-json.js';

/** A command as the stream carries it (the API's entry, agent/api/entry-json.ts). */
export type StreamedCommand = CommandEntry;

/** A stream line that is not a command object. */
export class BadStreamLineError extends Error {
  override readonly name = 'BadStreamLineError';
}

/**
 * Parse one NDJSON line of the stream.
 * @throws BadStreamLineError when it is not JSON or lacks a field of {@link StreamedCommand}.
 */
export function parseStreamLine(line: string): StreamedCommand {
  let v: Partial<StreamedCommand>;
  try {
    v = JSON.parse(line) as Partial<StreamedCommand>;
  } catch {
    throw new BadStreamLineError(`the agent sent a line that is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (
    typeof v !== 'object' || v === null || typeof v.cursor !== 'string' || typeof v.id !== 'string' || typeof v.author !== 'string' ||
    typeof v.seq !== 'number' || typeof v.payload !== 'string' || !Array.isArray(v.parents)
  ) {
    throw new BadStreamLineError(`the agent sent a line that is not a command: ${JSON.stringify(line.slice(0, 80))}`);
  }
  return v as StreamedCommand;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** C0 controls but tab, DEL and C1 controls: text with these is not shown as text. */
const UNPRINTABLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

/** The payload as `tail` shows it (see the module comment). */
export function payloadText(c: StreamedCommand): string {
  if (c.json !== undefined) return JSON.stringify(c.json);
  const bytes = Buffer.from(c.payload, 'base64');
  try {
    const text = utf8.decode(bytes);
    if (!UNPRINTABLE.test(text)) return text;
  } catch {
    /* not UTF-8 */
  }
  return `base64:${c.payload}`;
}

/** One human line (no newline). */
export function formatCommand(c: StreamedCommand): string {
  return `${c.cursor}  ${c.id.slice(0, 12)}  ${c.author}  ${c.seq}  ${payloadText(c)}`;
}
