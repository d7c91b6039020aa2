/**
 * `syncwire store check|salvage`: what an operator runs when an agent refuses its command log
 * (exit 78: unreadable header, unknown version) or logged damage.
 *
 * - `check` reads the log and reports what is intact; it never modifies anything, so it may run
 *   beside a live agent (it then says so: the agent may be mid-write at the very end).
 * - `salvage` takes the data directory's lock (refused while an agent runs), quarantines the
 *   damaged bytes, keeps the original as `commands.log.salvage-backup-<time>` and replaces the log
 *   atomically with one rebuilt from every valid record.
 */
import { join, resolve } from 'node:path';
import { LOG_FILE } from '../store/disk-store.js';
import { inspectLog, salvageLog, type LogInspection } from '../store/log-salvage.js';
import { str, UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { configFileFor, DEFAULT_DATA_DIR, loadConfig } from './config.js';
import { EXIT } from './exit-codes.js';
import { acquireLock, lockHolder } from './lock.js';

/** Exit statuses of `store check` (documented in --help and README). */
export const CHECK_EXIT = { intact: EXIT.ok, damaged: EXIT.dataErr, missing: EXIT.noInput, unsupported: EXIT.config } as const;

/** `syncwire store`. */
export const storeSpec: CommandSpec = {
  name: 'store',
  summary: 'check a command log, or salvage a damaged one',
  usage: 'syncwire store (check | salvage) [--data-dir DIR | --config FILE] [--json]',
  flags: {
    'data-dir': { type: 'string', short: 'd', arg: 'DIR', description: `data directory holding commands.log (default ${DEFAULT_DATA_DIR})` },
    config: { type: 'string', short: 'c', arg: 'FILE', description: 'read dataDir from this agent config' },
    json: { type: 'boolean', description: 'print the report as JSON' },
  },
  details: `check    report what is intact: records, orphans (records whose parents were lost; the
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
         (left alone).`,
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

async function runStore(flags: Flags, positionals: string[]): Promise<number> {
  const [action, ...extra] = positionals;
  if ((action !== 'check' && action !== 'salvage') || extra.length > 0) throw new UsageError('expected `store check` or `store salvage`', 'store');
  const dir = await dataDirOf(flags);
  const file = join(dir, LOG_FILE);
  const json = flags.json === true;
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
