/**
 * `syncwire scope list`: the scopes a running agent holds (GET /v1/scopes), as a table (name, id
 * prefix, commands, joining) or, with `--json`, the answer as is. `scope grant NAME KEY ROLES` and
 * `scope revoke NAME KEY`: a membership change of the scope, signed by the agent (which must be an
 * admin of it), through POST /v1/scopes/members; prints the membership command's id. An agent
 * running protocol 1 answers 400 `bad_request` ("no scopes"): exit 1, as every refusal.
 */
import { apiRequest, type ApiTarget } from '../api/api-client.js';
import { UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { apiFailure, apiTargetFromFlags, TARGET_FLAGS } from './api-target.js';
import { EXIT } from './exit-codes.js';
import { scopeEntries, scopeRows, tableLines } from './scope-lines.js';
import { writeOut } from './stdout.js';

/** `syncwire scope`. */
export const scopeSpec: CommandSpec = {
  name: 'scope',
  summary: 'list the scopes of a running agent, or change who is a member of one',
  usage: 'syncwire scope (list [--json] | grant NAME KEY ROLES | revoke NAME KEY) [--socket PATH | --config FILE | --data-dir DIR | --url URL --token-file FILE]',
  flags: {
    ...TARGET_FLAGS,
    json: { type: 'boolean', description: 'print the GET /v1/scopes answer as JSON (every field: roles, retained, horizon, ...)' },
  },
  details: `Columns: NAME; ID = the first 16 hex chars of the scope id (the genesis id; pin a join
to it with "NAME@<64 hex id>"); COMMANDS = commands ever appended; JOINING = joined, waiting for
its genesis.

grant NAME KEY ROLES gives the 64-hex public key KEY the roles ROLES (letters r read, w write,
a admin) in the scope NAME (a name or 64-hex id), replacing the roles it had; revoke NAME KEY
removes it. Either is one membership command signed by the agent's key, which must be an admin
(a) of the scope; every host evaluates it, so a revoked peer is no longer offered the scope and
its later commands are refused. Prints the command's id. Exit status 1 when no agent answers, the
agent refuses (not_permitted: it is no admin; not_found: no such scope; the agent runs protocol 1).`,
};

async function runScope(flags: Flags, positionals: string[]): Promise<number> {
  const [sub, ...args] = positionals;
  if (sub === 'grant' || sub === 'revoke') return changeMembers(flags, sub, args);
  if (sub !== 'list') throw new UsageError(sub === undefined ? 'expected a subcommand: scope list | grant | revoke' : `unknown subcommand ${JSON.stringify(sub)} (expected: list, grant, revoke)`, 'scope');
  if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`, 'scope');
  const target = await apiTargetFromFlags(flags, 'scope');
  let json: unknown;
  try {
    json = (await apiRequest(target, 'GET', '/v1/scopes')).json;
  } catch (err) {
    return refused(err, target);
  }
  const scopes = scopeEntries(json);
  if (scopes === null) {
    process.stderr.write('syncwire scope: the agent answered no {"scopes": [...]} list\n');
    return EXIT.failure;
  }
  await writeOut(flags.json === true ? JSON.stringify(json, null, 2) + '\n' : scopes.length === 0 ? '(no scopes)\n' : tableLines(scopeRows(scopes)).join('\n') + '\n');
  return EXIT.ok;
}

/** `scope grant NAME KEY ROLES` / `scope revoke NAME KEY`. */
async function changeMembers(flags: Flags, sub: 'grant' | 'revoke', args: string[]): Promise<number> {
  const want = sub === 'grant' ? 3 : 2;
  if (args.length !== want) throw new UsageError(sub === 'grant' ? 'usage: scope grant NAME KEY ROLES' : 'usage: scope revoke NAME KEY', 'scope');
  const [scope, key, roles] = args as [string, string, string | undefined];
  if (!/^[0-9a-fA-F]{64}$/.test(key)) throw new UsageError(`KEY: expected a 64-hex public key, got ${JSON.stringify(key)}`, 'scope');
  if (sub === 'grant' && !/^(?!.*(.).*\1)[rwa]{1,3}$/.test(roles ?? '')) throw new UsageError(`ROLES: expected letters r, w, a, each at most once, got ${JSON.stringify(roles)}`, 'scope');
  const target = await apiTargetFromFlags(flags, 'scope');
  const body = JSON.stringify({ members: [{ key: key.toLowerCase(), roles: sub === 'grant' ? roles : '' }] });
  try {
    const r = await apiRequest(target, 'POST', `/v1/scopes/members?scope=${encodeURIComponent(scope)}`, { body, contentType: 'application/json' });
    await writeOut(`${(r.json as { id: string }).id}\n`);
    return EXIT.ok;
  } catch (err) {
    return refused(err, target);
  }
}

function refused(err: unknown, target: ApiTarget): number {
  const f = apiFailure(err, target);
  process.stderr.write(`syncwire scope: ${f.message}\n`);
  return f.status;
}

/** The `scope` subcommand. */
export const scopeCommand: Command = { spec: scopeSpec, positionals: true, run: runScope };
