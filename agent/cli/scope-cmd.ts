/**
 * `syncwire scope list`: the scopes a running protocol 2 agent holds (GET /v1/scopes), as a
 * table (name, id prefix, commands, joining) or, with `--json`, the answer as is. An agent
 * running protocol 1 answers 400 `bad_request` ("no scopes"): exit 1, as every refusal.
 */
import { apiRequest } from '../api/api-client.js';
import { UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { apiFailure, apiTargetFromFlags, TARGET_FLAGS } from './api-target.js';
import { EXIT } from './exit-codes.js';
import { scopeEntries, scopeRows, tableLines } from './scope-lines.js';
import { writeOut } from './stdout.js';

/** `syncwire scope`. */
export const scopeSpec: CommandSpec = {
  name: 'scope',
  summary: 'list the scopes of a running protocol 2 agent',
  usage: 'syncwire scope list [--socket PATH | --config FILE | --data-dir DIR | --url URL --token-file FILE] [--json]',
  flags: {
    ...TARGET_FLAGS,
    json: { type: 'boolean', description: 'print the GET /v1/scopes answer as JSON (every field: roles, retained, horizon, ...)' },
  },
  details: `Columns: NAME; ID = the first 16 hex chars of the scope id (the genesis id; pin a join
to it with "NAME@<64 hex id>"); COMMANDS = commands ever appended; JOINING = joined, waiting for
its genesis. Exit status 1 when no agent answers or the agent runs protocol 1 (no scopes).`,
};

async function runScope(flags: Flags, positionals: string[]): Promise<number> {
  const [sub, ...extra] = positionals;
  if (sub !== 'list') throw new UsageError(sub === undefined ? 'expected a subcommand: scope list' : `unknown subcommand ${JSON.stringify(sub)} (expected: list)`, 'scope');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`, 'scope');
  const target = await apiTargetFromFlags(flags, 'scope');
  let json: unknown;
  try {
    json = (await apiRequest(target, 'GET', '/v1/scopes')).json;
  } catch (err) {
    const f = apiFailure(err, target);
    process.stderr.write(`syncwire scope: ${f.message}\n`);
    return f.status;
  }
  const scopes = scopeEntries(json);
  if (scopes === null) {
    process.stderr.write('syncwire scope: the agent answered no {"scopes": [...]} list\n');
    return EXIT.failure;
  }
  await writeOut(flags.json === true ? JSON.stringify(json, null, 2) + '\n' : scopes.length === 0 ? '(no scopes)\n' : tableLines(scopeRows(scopes)).join('\n') + '\n');
  return EXIT.ok;
}

/** The `scope` subcommand. */
export const scopeCommand: Command = { spec: scopeSpec, positionals: true, run: runScope };
