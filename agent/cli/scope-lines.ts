/**
 * What the CLI prints for the protocol 2 parts of the API (docs/design/v2-scopes.md §4.7, §6.2):
 * gap lines of `GET /v1/commands` (`-- gap in <scope>: <reason> ...`) and the scope table of
 * `syncwire scope list` and `syncwire status`. The answers are read generically (plain JSON, no
 * v2 engine types), so a CLI of this release also talks to a newer agent.
 */

/** A gap line's object (§4.7): `{"gap":{scope, reason, before?, after?, horizon?}}`. */
export interface GapLine {
  gap: { scope?: unknown; reason?: unknown; before?: unknown; after?: unknown; horizon?: unknown };
}

/** The gap of an NDJSON line, or null when the line is not a gap line (a command, or not JSON). */
export function parseGapLine(line: string): GapLine | null {
  // Cheap test first: command lines never start with {"gap".
  if (!line.startsWith('{"gap"')) return null;
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v === 'object' && v !== null && 'gap' in v && typeof v.gap === 'object' && v.gap !== null) return v as GapLine;
  } catch {
    /* not JSON: the command parser reports it */
  }
  return null;
}

/**
 * One human line for a gap: `-- gap in device/34750f98bd59fcfc: pruned after 17-… before 400-…`,
 * or `-- gap in S: horizon before C (2 horizon records)`.
 */
export function formatGap(g: GapLine): string {
  const { scope, reason, before, after, horizon } = g.gap;
  const parts = [`-- gap in ${String(scope ?? '?')}: ${String(reason ?? 'unknown')}`];
  if (typeof after === 'string') parts.push(`after ${after}`);
  if (typeof before === 'string') parts.push(`before ${before}`);
  if (Array.isArray(horizon)) parts.push(`(${horizon.length} horizon record${horizon.length === 1 ? '' : 's'})`);
  return parts.join(' ');
}

/** Entries of a `{"scopes":[...]}` answer (or a status snapshot's `scopes`) that are objects. */
export function scopeEntries(v: unknown): Record<string, unknown>[] | null {
  const list = typeof v === 'object' && v !== null && 'scopes' in v ? (v as { scopes: unknown }).scopes : undefined;
  if (!Array.isArray(list)) return null;
  return list.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x));
}

/** Width of the id prefix shown (the full id is in `--json`). */
export const SCOPE_ID_PREFIX = 16;

/** The rows of the scope table: NAME, ID (prefix), COMMANDS, JOINING; header first. */
export function scopeRows(scopes: Record<string, unknown>[]): string[][] {
  const rows = [['NAME', 'ID', 'COMMANDS', 'JOINING']];
  for (const s of scopes) {
    rows.push([
      String(s.name ?? '?'),
      typeof s.id === 'string' ? s.id.slice(0, SCOPE_ID_PREFIX) : '-',
      typeof s.commands === 'number' ? String(s.commands) : '-',
      s.joining === true ? 'yes' : 'no',
    ]);
  }
  return rows;
}

/** Columns padded to their widest cell, `indent` before each row, trailing spaces trimmed. */
export function tableLines(rows: string[][], indent = ''): string[] {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => indent + r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd());
}
