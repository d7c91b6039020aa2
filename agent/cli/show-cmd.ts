/**
 * `syncwire show ID`: one command of the agent's store, GET /v1/commands/<id>, printed as the
 * stream's JSON object (pretty). The full 64-hex id only: a prefix is a usage error (the API looks
 * commands up by id, and a short prefix could name several).
 */
import { apiRequest, ApiAnswerError } from '../api/api-client.js';
import { UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { apiFailure, apiTargetFromFlags, TARGET_FLAGS } from './api-target.js';
import { writeOut } from './stdout.js';

/** `syncwire show`. */
export const showSpec: CommandSpec = {
  name: 'show',
  summary: 'print one command of the agent (id, author, seq, parents, payload) as JSON',
  usage: 'syncwire show [--socket PATH | --data-dir DIR | --url URL --token-file FILE] ID',
  flags: { ...TARGET_FLAGS },
  details: `ID is the command's full id, 64 hex chars (what \`commit\` prints, \`tail --json\`'s "id").
Prints {"cursor","id","author","seq","parents","payload" (base64),"json" (when the payload is
JSON)}. Exit status 1 with "not found" when the agent holds no such command, or when no agent
answers.`,
};

async function runShow(flags: Flags, positionals: string[]): Promise<number> {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give the command id' : 'give one command id', 'show');
  const id = positionals[0]!.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(id)) throw new UsageError(`expected a full command id (64 hex chars), got ${JSON.stringify(positionals[0]!.slice(0, 80))}`, 'show');
  const target = await apiTargetFromFlags(flags, 'show');
  try {
    const r = await apiRequest(target, 'GET', `/v1/commands/${id}`);
    await writeOut(JSON.stringify(r.json, null, 2) + '\n');
    return 0;
  } catch (err) {
    if (err instanceof ApiAnswerError && err.status === 404) {
      process.stderr.write(`syncwire show: ${id}: not found\n`);
      return 1;
    }
    const f = apiFailure(err, target);
    process.stderr.write(`syncwire show: ${f.message}\n`);
    return f.status;
  }
}

/** The `show` subcommand. */
export const showCommand: Command = { spec: showSpec, positionals: true, run: runShow };
