/**
 * The "Peer comparison" section of docs/BENCHMARKS.md (issue 17): syncwire, Automerge and Yjs on
 * the same commands in the same run (the `automerge` suite), one table, and per-command figures
 * derived from the same run that say where syncwire's bytes and time go.
 */

const fmt = (v: number | undefined, d = 1): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: d }));

/** What the difference between wire and canonical bytes a command is. */
function gap(wire: number, canonical: number): string {
  if (!Number.isFinite(wire - canonical)) return 'no canonical size measured';
  const d = fmt(Math.abs(wire - canonical));
  return wire >= canonical ? `${d} more a command are poll requests and response envelopes` : `compact batches send ${d} fewer a command than the canonical form`;
}

/** The section's markdown, or '' when the suite's figures are absent. */
export function peersSection(r: Record<string, number>): string {
  const n = r['automerge.commands'];
  if (n === undefined || r['automerge.cold.syncwire_bytes'] === undefined) return '';
  const rows: string[] = [];
  for (const c of ['cold', 'concurrent'] as const) {
    const am = c === 'cold' ? 'automerge' : 'automerge.concurrent';
    const yj = c === 'cold' ? 'yjs' : 'yjs.concurrent';
    const label = c === 'cold' ? `cold, ${fmt(n)}` : `concurrent, ${fmt(n / 2)} shared + ${fmt(n / 4)} + ${fmt(n / 4)}`;
    const row = (what: string, key: string, amRatio: string, yjRatio: string): string =>
      `| ${label}: ${what} | ${fmt(r[`automerge.${c}.syncwire_${key}`])} | ${fmt(r[`automerge.${c}.automerge_${key}`])} | ${fmt(r[`yjs.${c}.yjs_${key}`], 2)} | ${fmt(r[`${am}.${amRatio}`], 3)} | ${fmt(r[`${yj}.${yjRatio}`], 3)} |`;
    rows.push(row('bytes', 'bytes', 'bytes_ratio', 'bytes_ratio'));
    rows.push(row('round trips', 'round_trips', c === 'cold' ? 'round_trips' : 'round_trips_ratio', 'round_trips_ratio'));
    rows.push(row('ms', 'ms', 'time_ratio', 'time_ratio'));
  }
  const moved = n + 1; // cold: the genesis too
  const swPer = r['automerge.cold.syncwire_bytes']! / moved;
  const cmdPer = (r['automerge.cold.syncwire_command_bytes'] ?? NaN) / moved;
  const verify = r['protocol.verify_ops_s'];
  const yjMs = r['yjs.cold.yjs_ms'] ?? NaN;
  return `## Peer comparison (same run)

The same ${fmt(n)} commands (100-byte payloads) synced between two peers by syncwire's poll
(memory link, unsealed), Automerge's sync protocol and Yjs's two sync steps (method: \`automerge.*\`,
\`yjs.*\`); runs interleaved, medians. Ratios are syncwire ÷ the other.

| | syncwire | Automerge | Yjs | ÷ Automerge | ÷ Yjs |
|---|---:|---:|---:|---:|---:|
${rows.join('\n')}

Where syncwire's cold bytes go: ${fmt(swPer)} bytes a command on the wire, against ${fmt(cmdPer)} for the
canonical signed command the receiver holds (100 payload, 64 signature, 32 per parent id, author,
sequence, kind and CBOR heads): ${gap(swPer, cmdPer)}. Automerge sends the cold
history as one compressed document (${fmt(r['automerge.cold.automerge_bytes']! / n)} bytes a command),
Yjs as one update (${fmt((r['yjs.cold.yjs_bytes'] ?? NaN) / n)} bytes a command: the payload and a
few bytes of item header; ${fmt((r['yjs.cold.yjs_update_v2_bytes'] ?? NaN) / n)} in its update format v2);
neither signs anything. Where the time goes: syncwire's receiver decodes every command, hashes it
(its id) and verifies ed25519 signatures (each command's, or with elided signatures each covering
command's), and the sync takes ${fmt(r['automerge.cold.syncwire_round_trips'])} poll round trips where Yjs takes one;
Automerge and Yjs apply the same history without any check. For scale: Yjs's whole cold sync took
${fmt(yjMs, 2)} ms, the time of ≈ ${fmt(verify ? (yjMs / 1000) * verify : NaN, 0)} ed25519 verifies on one core at this run's
\`protocol.verify_ops_s\` (${fmt(verify)}/s); the ≤ 2.0 time target leaves syncwire ${fmt(2 * yjMs, 1)} ms for all ${fmt(n)}.

`;
}
