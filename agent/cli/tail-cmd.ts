/**
 * `syncwire tail`: the agent's commands in causal order, from GET /v1/commands (NDJSON).
 *
 * Prints one human line per command (command-line.ts), or with `--json` each stream line as it
 * arrived; with `--exec CMD` it prints nothing itself and hands each command to CMD
 * (exec-runner.ts: one at a time, in order, at least once, the cursor kept in `--cursor-file`).
 * Without `--follow` it ends after the last command the agent holds; with it, it waits for new
 * ones and survives an agent restart: a stream that ends or breaks is reopened after the last
 * command handled (back-off 1 s doubling to 60 s). SIGINT / SIGTERM end it with status 0.
 *
 * Protocol 2 (`--scope NAME`, else the agent's default scope): the stream also carries gap lines
 * (docs/design/v2-scopes.md §4.7: commands that will never come); text mode prints them as one
 * `-- gap in <scope>: <reason> ...` line, `--json` as received, `--exec` logs them on stderr.
 * They carry no cursor, so the resume position stays the command before.
 *
 * Exit status: 0 done or stopped; 1 no agent answers at the start, the stream broke without
 * `--follow`, or the agent refused the request (410 `cursor_unknown`: the cursor names a command
 * the store does not hold); 2 usage; 78 a cursor or token file that cannot be used.
 */
import { resolve } from 'node:path';
import { ApiAnswerError, apiStream, ApiUnavailableError, describeTarget, type ApiTarget } from '../api/api-client.js';
import { str, UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { apiTargetFromFlags, TARGET_FLAGS } from './api-target.js';
import { BadStreamLineError, formatCommand, parseStreamLine } from './command-line.js';
import type { IncomingHttpHeaders } from 'node:http';
import { isCursor, readCursorFile } from './cursor-file.js';
import { EXEC_FIRST_BACKOFF_MS, EXEC_MAX_BACKOFF_MS, runExec } from './exec-runner.js';
import { scopedFailure } from './commit-agent.js';
import { formatGap, parseGapLine } from './scope-lines.js';
import { stdoutClosed, writeOut } from './stdout.js';

/** `syncwire tail`. */
export const tailSpec: CommandSpec = {
  name: 'tail',
  summary: "print the agent's commands in causal order; follow new ones; run a program per command",
  usage: 'syncwire tail [--socket PATH | --data-dir DIR | --url URL --token-file FILE] [--scope NAME] [--follow] [--after CURSOR] [--json | --exec CMD --cursor-file FILE]',
  flags: {
    ...TARGET_FLAGS,
    follow: { type: 'boolean', short: 'f', description: 'keep the stream open and print new commands as they arrive (survives an agent restart)' },
    after: { type: 'string', short: 'a', arg: 'CURSOR', description: 'start after this cursor (a line\'s first field), or "end" for new commands only (default: the first command)' },
    json: { type: 'boolean', description: 'print the NDJSON lines as received (cursor, id, author, seq, parents, payload base64, json)' },
    exec: { type: 'string', short: 'x', arg: 'CMD', description: 'run CMD (/bin/sh -c) per command, payload on stdin, SYNCWIRE_ID/CURSOR/AUTHOR/SEQ (protocol 2: and SCOPE/KIND) in its env' },
    'cursor-file': { type: 'string', arg: 'FILE', description: 'with --exec (required): the last handled cursor; resumed from when it exists (it wins over --after)' },
    scope: { type: 'string', arg: 'NAME', description: "protocol 2: the scope to read, a name or 64-hex id (default: the agent's scopes.default, else its only scope)" },
  },
  details: `Human lines: CURSOR  ID (first 12 hex)  AUTHOR  SEQ  PAYLOAD, the payload as JSON when it
parses as JSON, else as text when printable, else base64:<base64>. Pass a cursor to --after
to resume after that command; a cursor the agent's store does not hold is refused (exit 1).

Protocol 2 agents: --scope NAME reads that scope (an unknown one: exit 1). Its stream may hold
gap lines, commands that will never arrive (pruned, or older than what this agent received);
they print as "-- gap in <scope>: <reason> [after C] [before C] [(N horizon records)]", with
--json as received ({"gap":{...}}), with --exec on stderr (CMD is not run for them).

--exec CMD runs CMD once per command, one at a time, in order, with the payload on stdin and
SYNCWIRE_ID, SYNCWIRE_CURSOR, SYNCWIRE_AUTHOR, SYNCWIRE_SEQ set (protocol 2 also SYNCWIRE_SCOPE
and SYNCWIRE_KIND: data, genesis, membership or v1, so CMD can skip a scope's genesis and
membership commands, which come first); CMD's output is tail's. After
CMD exits 0 the command's cursor is written to --cursor-file (temp file, fsync, rename), and a
restarted tail resumes after it: at-least-once (a crash between CMD's exit and that write runs
the command again). A CMD that fails is retried after 1 s, doubling to 60 s, logged on stderr;
a command is never skipped. Without --follow tail ends after the last command held.

SIGINT / SIGTERM end tail with status 0 (a running CMD's process group gets SIGTERM, SIGKILL
after 10 s; its command counts as handled if it still exits 0). Exit status 1 when no agent answers at the start, or when the
stream breaks without --follow; with --follow a lost agent is waited for, and the stream is
reopened after the last command handled (--after end stands for the last command the agent
held when the stream first opened, so nothing that arrives meanwhile is skipped).`,
};

/** What the flags ask for. @throws UsageError on a bad combination or cursor. */
function tailOptions(flags: Flags): { after?: string; exec?: string; cursorFile?: string; scope?: string } {
  const scope = str(flags, 'scope');
  if (scope === '') throw new UsageError('--scope: give a scope name or a 64-hex scope id', 'tail');
  const after = str(flags, 'after');
  if (after !== undefined && after !== 'end' && !isCursor(after)) throw new UsageError(`--after: expected a cursor like 12-0123456789abcdef or "end", got ${JSON.stringify(after)}`, 'tail');
  const exec = str(flags, 'exec');
  const cursorFile = str(flags, 'cursor-file');
  if (exec !== undefined && cursorFile === undefined) throw new UsageError('--exec needs --cursor-file FILE (where the last handled cursor is kept)', 'tail');
  if (exec === undefined && cursorFile !== undefined) throw new UsageError('--cursor-file is for --exec', 'tail');
  if (exec !== undefined && flags.json === true) throw new UsageError('--json prints the commands, --exec hands them to CMD: give one', 'tail');
  if (exec !== undefined && exec.trim() === '') throw new UsageError('--exec: empty command', 'tail');
  return { ...(scope !== undefined ? { scope } : {}), ...(after !== undefined ? { after } : {}), ...(exec !== undefined ? { exec } : {}), ...(cursorFile !== undefined ? { cursorFile: resolve(cursorFile) } : {}) };
}

function streamPath(after: string | undefined, follow: boolean, scope: string | undefined): string {
  const q = new URLSearchParams();
  if (scope !== undefined) q.set('scope', scope);
  if (after !== undefined) q.set('after', after);
  if (follow) q.set('follow', 'true');
  const s = q.toString();
  return '/v1/commands' + (s === '' ? '' : `?${s}`);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((r) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      r();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const log = (line: string): void => void process.stderr.write(`syncwire tail: ${line}\n`);

/** Stream, print or exec, and reconnect (with --follow) until done or stopped. */
async function tailLoop(target: ApiTarget, flags: Flags, opts: ReturnType<typeof tailOptions>, signal: AbortSignal): Promise<number> {
  const follow = flags.follow === true;
  let after = (opts.cursorFile !== undefined ? readCursorFile(opts.cursorFile) : undefined) ?? opts.after;
  let delay = EXEC_FIRST_BACKOFF_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      // "end" becomes the cursor it stood for, so a reconnect skips nothing added meanwhile.
      const onHeaders = (h: IncomingHttpHeaders): void => {
        const start = h['syncwire-start-cursor'];
        if (after === 'end') after = typeof start === 'string' && isCursor(start) ? start : undefined;
      };
      for await (const line of apiStream(target, streamPath(after, follow, opts.scope), { signal, onHeaders })) {
        const gap = parseGapLine(line);
        if (gap !== null) {
          // Not a position: `after` stays the command before it (a resume may show it again).
          if (opts.exec !== undefined) log(formatGap(gap).slice(3));
          else await writeOut((flags.json === true ? line : formatGap(gap)) + '\n');
          if (stdoutClosed()) return 0;
          continue;
        }
        const cmd = parseStreamLine(line);
        delay = EXEC_FIRST_BACKOFF_MS;
        if (opts.exec !== undefined) {
          if ((await runExec(cmd, { command: opts.exec, cursorFile: opts.cursorFile!, signal, log })) === 'stopped') return 0;
        } else {
          await writeOut((flags.json === true ? line : formatCommand(cmd)) + '\n');
          if (stdoutClosed()) return 0;
        }
        after = cmd.cursor;
      }
      if (signal.aborted || !follow) return 0;
      log(`${describeTarget(target)}: the agent ended the stream (stopping?); reopening after ${after ?? 'the start'} in ${delay / 1000} s`);
    } catch (err) {
      if (signal.aborted) return 0;
      // Refusals and garbage do not pass by retrying; no agent at the very start is the user's error.
      const fatal = err instanceof ApiAnswerError || err instanceof BadStreamLineError || !follow || (attempt === 0 && err instanceof ApiUnavailableError);
      const f = err instanceof BadStreamLineError ? { message: err.message, status: 1 } : scopedFailure(err, target);
      if (fatal) {
        log(f.message);
        return f.status;
      }
      log(`${f.message}; reopening after ${after ?? 'the start'} in ${delay / 1000} s`);
    }
    await pause(delay, signal);
    if (signal.aborted) return 0;
    delay = Math.min(delay * 2, EXEC_MAX_BACKOFF_MS);
  }
}

async function runTail(flags: Flags): Promise<number> {
  const opts = tailOptions(flags);
  const target = await apiTargetFromFlags(flags, 'tail');
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    return await tailLoop(target, flags, opts, ac.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** The `tail` subcommand. */
export const tailCommand: Command = { spec: tailSpec, run: runTail };
