/**
 * `syncwire store check|salvage`: what an operator runs when an agent refuses its store (exit 78:
 * unreadable header, unknown version, a damaged scope segment or `horizon.bin`) or logged damage.
 * A protocol-2 data directory is checked scope by scope (`scopes/<id>/`: scope-check.ts,
 * scope-salvage.ts) plus its read-only `legacy/v1` log; a v1 one (`commands.log`) as before.
 *
 * - `check` reads the log and reports what is intact; it never modifies anything, so it may run
 *   beside a live agent (it then says so: the agent may be mid-write at the very end).
 * - `salvage` takes the data directory's lock (refused while an agent runs), quarantines the
 *   damaged bytes, keeps the original as `commands.log.salvage-backup-<time>` and replaces the log
 *   atomically with one rebuilt from every valid record.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LOG_FILE } from '../store/disk-store.js';
import { inspectLog, salvageLog, type LogInspection } from '../store/log-salvage.js';
import { inspectScopes, worse, type ScopeCheck } from '../store/scope-check.js';
import { LEGACY_SCOPE_NAME, SCOPES_DIR, legacyDirOf } from '../store/scope-dir.js';
import { salvageScopeDir, type ScopeSalvage } from '../store/scope-salvage.js';
import { str, UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { configFileFor, DEFAULT_DATA_DIR, loadConfig } from './config.js';
import { EXIT } from './exit-codes.js';
import { acquireLock, lockHolder } from './lock.js';

/** Exit statuses of `store check` (documented in --help and README). */
export const CHECK_EXIT = { intact: EXIT.ok, damaged: EXIT.dataErr, missing: EXIT.noInput, unsupported: EXIT.config } as const;

/** `syncwire store`. */
export const storeSpec: CommandSpec = {
  name: 'store',
  summary: 'check a data directory\'s logs (every scope, or commands.log), or salvage damaged ones',
  usage: 'syncwire store (check | salvage) [--data-dir DIR | --config FILE] [--scope NAME] [--json]',
  flags: {
    'data-dir': { type: 'string', short: 'd', arg: 'DIR', description: `data directory (scopes/, or a v1 commands.log; default ${DEFAULT_DATA_DIR})` },
    config: { type: 'string', short: 'c', arg: 'FILE', description: 'read dataDir from this agent config' },
    scope: { type: 'string', arg: 'NAME', description: `protocol 2: only this scope (a name, a 64-hex id, or ${LEGACY_SCOPE_NAME})` },
    json: { type: 'boolean', description: 'print the report as JSON' },
  },
  details: `A protocol 2 data directory is reported scope by scope (each scope's members.log,
segments and horizon.bin; legacy/v1 as a commands.log); the exit status is the worst scope's.
check    report what is intact: records, orphans (records whose parents were lost; the
         agent keeps them and repairs them from peers), damaged byte ranges, a torn tail.
         Never modifies anything. Exit status: 0 intact (a torn tail, cut by the agent on
         start, and orphans are intact), 65 damaged (bad header or damaged ranges: run
         salvage), 66 no log there, 78 a newer syncwire's layout (not readable here).
salvage  rebuild the log from every valid record: damaged bytes go to
         commands.log.quarantine-<time> (+ .json naming offsets), the original is kept as
         commands.log.salvage-backup-<time>, the new log replaces it atomically. Takes the
         data directory's lock. Exit status: 0 rebuilt or nothing to do, 66 no log,
         75 a commit holds the lock (try again), 78 an agent runs on the directory (stop it
         first), the log is a newer syncwire's, or no record is found in a foreign file
         (left alone). A scope: each damaged segment is rebuilt the same way (quarantine,
         seg-<n>.log.salvage-backup-<time>), later segments are renamed to their new first
         handles, a damaged horizon.bin is set aside (the scope opens as base 0); refused
         (78, untouched) for a damaged members.log or damage below pruned history.`,
};

async function dataDirOf(flags: Flags): Promise<string> {
  const dir = str(flags, 'data-dir');
  const cfgFile = configFileFor(str(flags, 'config'));
  if (cfgFile !== undefined) return (await loadConfig(cfgFile, dir !== undefined ? [{ path: ['dataDir'], value: dir, flag: 'data-dir' }] : [])).dataDir;
  return resolve(dir ?? DEFAULT_DATA_DIR);
}

function describe(r: LogInspection): string[] {
  const lines = [`${r.file}: ${r.verdict}`];
  if (r.verdict === 'missing') return lines;
  lines.push(`  size ${r.size} bytes, header ${r.header}${r.version !== undefined ? `, layout version ${r.version}` : ''}`);
  if (r.verdict === 'unsupported') return lines;
  lines.push(`  ${r.records} valid records: ${r.indexed} load into the graph, ${r.orphans} orphans (parents lost; repaired from peers)${r.duplicates > 0 ? `, ${r.duplicates} duplicates` : ''}`);
  if (r.damaged.length > 0) {
    lines.push(`  ${r.damaged.length} damaged ranges, ${r.damagedBytes} bytes:`);
    for (const d of r.damaged.slice(0, 20)) lines.push(`    offset ${d.offset}, ${d.length} bytes (${d.reason})`);
    if (r.damaged.length > 20) lines.push(`    … ${r.damaged.length - 20} more (--json lists all)`);
  }
  if (r.torn) lines.push(`  torn tail at offset ${r.torn.offset}, ${r.torn.length} bytes (an incomplete last write; cut on the next start)`);
  if (r.version === 1) lines.push('  layout version 1: upgraded to 2 on the next start (the v1 file is kept as a backup)');
  return lines;
}

const publicView = (r: LogInspection): Omit<LogInspection, 'plan'> => {
  const { plan: _plan, ...rest } = r;
  return rest;
};

function describeScope(c: ScopeCheck): string[] {
  const hz = c.horizon.state === 'ok' ? `base ${c.horizon.base}, ${c.horizon.pinned} pinned` : c.horizon.state === 'absent' ? 'absent (nothing pruned)' : `damaged: ${c.horizon.why}`;
  const lines = [`scope ${c.name ?? '(genesis unreadable)'} ${c.id}: ${c.verdict}`, `  ${c.commands} commands in ${c.firsts.length} segments; horizon.bin ${hz}`];
  for (const f of c.files) {
    if (f.verdict === 'intact' && f.torn === undefined) continue;
    lines.push(`  ${f.file}: ${f.verdict}, size ${f.size} bytes, header ${f.header}, ${f.records} valid records`);
    for (const d of f.damaged.slice(0, 20)) lines.push(`    offset ${d.offset}, ${d.length} bytes (${d.reason})`);
    if (f.damaged.length > 20) lines.push(`    … ${f.damaged.length - 20} more (--json lists all)`);
    if (f.torn) lines.push(`    torn tail at offset ${f.torn.offset}, ${f.torn.length} bytes (an incomplete last write; cut on the next start)`);
  }
  return lines;
}

function describeSalvage(r: ScopeSalvage): string[] {
  const lines = describeScope(r.before);
  if (!r.rebuilt) return [...lines, '  nothing to salvage'];
  for (const s of r.segments) {
    lines.push(`  rebuilt ${s.file}: ${s.records} records kept (${s.commands} commands)`);
    if (s.quarantine) lines.push(`  damaged bytes (${s.quarantine.bytes}) quarantined in ${s.quarantine.file} (ranges in ${s.quarantine.sidecar})`);
    lines.push(`  original kept as ${s.backup}`);
  }
  for (const m of r.renamed) lines.push(`  renamed ${m.from} to ${m.to} (its commands moved to new handles)`);
  if (r.horizonBackup) lines.push(`  damaged horizon.bin set aside as ${r.horizonBackup}: the scope opens as base 0`);
  return lines;
}

/** What a protocol-2 data directory holds that `--scope` selects. */
interface V2Selection {
  scopes: ScopeCheck[];
  /** `scopes/legacy-v1/commands.log`, when selected and present. */
  legacy: string | null;
  /** A `commands.log` not migrated yet (no `--scope` only). */
  log: string | null;
}

function selectV2(dir: string, scope: string | undefined): V2Selection {
  const legacyFile = join(legacyDirOf(dir), LOG_FILE);
  const topFile = join(dir, LOG_FILE);
  const all = scope === LEGACY_SCOPE_NAME ? [] : inspectScopes(dir);
  const scopes = scope === undefined ? all : all.filter((c) => c.id === scope.toLowerCase() || c.name === scope);
  return {
    scopes,
    legacy: (scope === undefined || scope === LEGACY_SCOPE_NAME) && existsSync(legacyFile) ? legacyFile : null,
    log: scope === undefined && existsSync(topFile) ? topFile : null,
  };
}

/** `store check|salvage` on a protocol-2 data directory (or any with `--scope`). */
async function runStoreV2(action: 'check' | 'salvage', dir: string, scope: string | undefined, json: boolean): Promise<number> {
  const sel = selectV2(dir, scope);
  if (sel.scopes.length === 0 && sel.legacy === null && sel.log === null) {
    process.stderr.write(`syncwire store ${action}: ${dir}: ${scope !== undefined ? `no scope ${JSON.stringify(scope)} there` : 'no scope and no command log there'}\n`);
    return CHECK_EXIT.missing;
  }
  if (action === 'check') {
    const holder = await lockHolder(dir).catch(() => undefined);
    const legacy = sel.legacy !== null ? inspectLog(sel.legacy) : null;
    const log = sel.log !== null ? inspectLog(sel.log) : null;
    let verdict: ScopeCheck['verdict'] | 'missing' = 'missing';
    for (const v of [...sel.scopes.map((c) => c.verdict), legacy?.verdict, log?.verdict]) if (v !== undefined) verdict = worse(verdict, v);
    if (json) {
      const out = { dataDir: dir, verdict, scopes: sel.scopes, legacy: legacy && publicView(legacy), log: log && publicView(log), heldBy: holder ?? null };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      const lines = [`${dir}: ${verdict}`, ...sel.scopes.flatMap(describeScope)];
      if (legacy) lines.push(`scope ${LEGACY_SCOPE_NAME} (read-only v1 log):`, ...describe(legacy).map((l) => `  ${l}`));
      if (log) lines.push('not migrated yet (the next agent start moves it to legacy/v1):', ...describe(log).map((l) => `  ${l}`));
      if (holder) lines.push(`note: process ${holder.pid} (${holder.role}) holds this data directory; a torn tail may be a write in progress`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return CHECK_EXIT[verdict];
  }
  const lock = await acquireLock(dir, { role: 'commit' });
  try {
    const scopes: Array<ScopeSalvage | { id: string; name: string | null; error: string }> = [];
    let status: number = EXIT.ok;
    const text: string[] = [];
    for (const c of sel.scopes) {
      try {
        const r = salvageScopeDir(c.dir, c.id);
        scopes.push(r);
        text.push(...describeSalvage(r));
      } catch (err) {
        // One scope refused (exit 78) does not keep the others from being salvaged.
        const exitCode = (err as { exitCode?: unknown }).exitCode;
        if (typeof exitCode !== 'number') throw err;
        status = Math.max(status, exitCode);
        scopes.push({ id: c.id, name: c.name, error: (err as Error).message });
        text.push(...describeScope(c), `  refused: ${(err as Error).message}`);
      }
    }
    const logs = { legacy: sel.legacy !== null ? salvageLog(sel.legacy) : null, log: sel.log !== null ? salvageLog(sel.log) : null };
    for (const [what, r] of [[`scope ${LEGACY_SCOPE_NAME}`, logs.legacy], ['commands.log (not migrated yet)', logs.log]] as const) {
      if (r === null) continue;
      text.push(`${what}:`, ...describe(r.before).map((l) => `  ${l}`), r.rebuilt ? `  rebuilt: ${r.records} records kept${r.backup ? `, original kept as ${r.backup}` : ''}` : '  nothing to salvage');
    }
    if (json) {
      const pub = (r: ReturnType<typeof salvageLog> | null): object | null => (r === null ? null : { ...r, before: publicView(r.before) });
      process.stdout.write(`${JSON.stringify({ dataDir: dir, scopes, legacy: pub(logs.legacy), log: pub(logs.log) })}\n`);
    } else process.stdout.write(`${text.join('\n')}\n`);
    return status;
  } finally {
    await lock.release();
  }
}

async function runStore(flags: Flags, positionals: string[]): Promise<number> {
  const [action, ...extra] = positionals;
  if ((action !== 'check' && action !== 'salvage') || extra.length > 0) throw new UsageError('expected `store check` or `store salvage`', 'store');
  const dir = await dataDirOf(flags);
  const scope = str(flags, 'scope');
  if (scope === '') throw new UsageError('--scope: give a scope name, a 64-hex scope id or legacy/v1', 'store');
  const file = join(dir, LOG_FILE);
  const json = flags.json === true;
  if (scope !== undefined || existsSync(join(dir, SCOPES_DIR))) return runStoreV2(action, dir, scope, json);
  if (action === 'check') {
    const holder = await lockHolder(dir).catch(() => undefined);
    const r = inspectLog(file);
    if (json) process.stdout.write(`${JSON.stringify({ ...publicView(r), heldBy: holder ?? null })}\n`);
    else {
      const lines = describe(r);
      if (holder) lines.push(`  note: process ${holder.pid} (${holder.role}) holds this data directory; a torn tail may be a write in progress`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return CHECK_EXIT[r.verdict];
  }
  if (inspectLog(file).verdict === 'missing') {
    process.stderr.write(`syncwire store salvage: ${file}: no command log there\n`);
    return CHECK_EXIT.missing;
  }
  const lock = await acquireLock(dir, { role: 'commit' });
  try {
    const r = salvageLog(file);
    const { before } = r;
    if (json) process.stdout.write(`${JSON.stringify({ ...r, before: publicView(before) })}\n`);
    else if (!r.rebuilt) process.stdout.write(`${describe(before).join('\n')}\nnothing to salvage: the log is intact and current\n`);
    else {
      const lines = [...describe(before), `rebuilt ${file}: ${r.records} records kept`];
      if (r.quarantine) lines.push(`damaged bytes (${r.quarantine.bytes}) quarantined in ${r.quarantine.file} (ranges in ${r.quarantine.sidecar})`);
      if (r.backup) lines.push(`original kept as ${r.backup}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } finally {
    await lock.release();
  }
}

/** The `store` subcommand. */
export const storeCommand: Command = { spec: storeSpec, positionals: true, run: runStore };
