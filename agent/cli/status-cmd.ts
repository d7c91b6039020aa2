/**
 * `syncwire status`: GET /v1/status from a running agent (its unix socket, or its TCP API with
 * `--url`; see api-target.ts) and print the snapshot (or the raw JSON with `--json`).
 */
import { apiRequest } from '../api/api-client.js';
import type { Command, CommandSpec, Flags } from './args.js';
import { apiFailure, apiTargetFromFlags, TARGET_FLAGS } from './api-target.js';
import { scopeEntries, scopeRows, tableLines } from './scope-lines.js';

/** `syncwire status`. */
export const statusSpec: CommandSpec = {
  name: 'status',
  summary: "show a running agent's scopes, links, peers, subscriptions and traffic",
  usage: 'syncwire status [--socket PATH | --config FILE | --data-dir DIR | --url URL --token-file FILE] [--json]',
  flags: {
    ...TARGET_FLAGS,
    json: { type: 'boolean', description: 'print the whole snapshot as JSON (docs/STATUS.md lists every field)' },
  },
  details: `Prints the agent's role, peer id and data directory; commands held over every scope; the
(peer, scope) subscription slots in use; the scope table (NAME, the first 16 hex of the scope
id, COMMANDS appended, JOINING = waiting for its genesis); each configured link URL and the
links it holds; and the peer table: AUTH = handshake done, IN/OUT = message bytes, FRAMES =
frames in/out. Exit status 1 when no agent answers.`,
};

function bytes(n: number): string {
  if (n < 10_000) return `${n} B`;
  if (n < 10_000_000) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

function table(rows: string[][]): string[] {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => '  ' + r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd());
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const text = (v: unknown): string => (v === undefined || v === null ? '-' : String(v));
const records = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : []);

/**
 * Human-readable rendering of a snapshot: the process line, commands over every scope, push
 * subscriptions in use, the `scopes:` table (name, id prefix, commands, joining), links, peers
 * and modules. Fields are read defensively (the CLI does not load the engine's types): a missing
 * one prints `-`.
 */
export function formatSnapshot(s: Record<string, unknown>): string {
  const scopes = scopeEntries(s) ?? [];
  const out: string[] = [];
  out.push(`syncwire ${text(s.role)} ${text(s.peerId)}  pid ${text(s.pid)}  up ${text(s.uptimeS)}s  durability ${text(s.durability)}  data ${text(s.dataDir)}  protocol ${text(s.protocol ?? 2)}`);
  out.push(`commands:      ${text(s.commands)}`);
  const sub = (typeof s.subscriptions === 'object' && s.subscriptions !== null ? s.subscriptions : {}) as Record<string, unknown>;
  out.push(`subscriptions: ${text(sub.used)}/${text(sub.capacity)} in use`);
  out.push(`scopes (${scopes.length}):`);
  if (scopes.length === 0) out.push('  (none)');
  else out.push(...tableLines(scopeRows(scopes), '  '));
  const transports = records(s.transports);
  out.push(`links (${transports.length} transport${transports.length === 1 ? '' : 's'}):`);
  if (transports.length === 0) out.push('  (none)');
  for (const t of transports) {
    const links = Array.isArray(t.links) ? t.links.map(String) : [];
    const port = typeof t.localPort === 'number' ? ` (port ${t.localPort})` : '';
    out.push(`  ${text(t.url)}${port}: ${links.length === 0 ? 'no link up' : links.join(', ')}`);
  }
  const peers = records(s.peers);
  out.push(`peers (${peers.length}):`);
  if (peers.length === 0) out.push('  (none)');
  else {
    const rows = [['PEER', 'LINK', 'AUTH', 'IN', 'OUT', 'FRAMES']];
    for (const p of peers) rows.push([text(p.id), text(p.link), p.authenticated === true ? 'yes' : 'no', bytes(num(p.bytesIn)), bytes(num(p.bytesOut)), `${num(p.framesIn)}/${num(p.framesOut)}`]);
    out.push(...table(rows));
  }
  const m = (typeof s.modules === 'object' && s.modules !== null ? s.modules : {}) as Record<string, unknown>;
  out.push(`modules:       mqtt ${m.mqtt === true ? 'loaded' : 'not loaded'}, serialport ${m.serialport === true ? 'loaded' : 'not loaded'}`);
  return out.join('\n') + '\n';
}

async function runStatus(flags: Flags): Promise<number> {
  const target = await apiTargetFromFlags(flags, 'status');
  let snapshot: unknown;
  try {
    snapshot = (await apiRequest(target, 'GET', '/v1/status')).json;
  } catch (err) {
    const f = apiFailure(err, target);
    process.stderr.write(`syncwire status: ${f.message}\n`);
    return f.status;
  }
  if (snapshot === undefined || snapshot === null || typeof snapshot !== 'object' || Array.isArray(snapshot)) {
    process.stderr.write('syncwire status: the agent answered no JSON snapshot\n');
    return 1;
  }
  process.stdout.write(flags.json === true ? JSON.stringify(snapshot, null, 2) + '\n' : formatSnapshot(snapshot as Record<string, unknown>));
  return 0;
}

/** The `status` subcommand. */
export const statusCommand: Command = { spec: statusSpec, run: runStatus };
