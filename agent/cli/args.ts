/**
 * Argument parsing shared by every subcommand: a thin layer over `util.parseArgs` that adds a
 * description to each flag (for `--help`), turns parse failures into {@link UsageError}s (exit 2)
 * and renders help text. No dependency beyond node.
 */
import { parseArgs } from 'node:util';
import { EXIT } from './exit-codes.js';

/** A bad command line: unknown command or flag, missing or malformed value. Exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** Process exit status for usage errors (BSD `EX_USAGE` is 64; we follow the common `2`). */
  readonly exitCode = EXIT.usage;
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

/** One flag of a subcommand. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** May be given several times (values collected in order). */
  multiple?: boolean;
  /** Placeholder shown in help, e.g. `URL`. Default `VALUE`. */
  arg?: string;
  /** One-line description for `--help` (mention the default there). */
  description: string;
}

/** A subcommand's name, one-line summary, usage line, flags and extra help text. */
export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, FlagSpec>;
  /** Paragraphs printed after the flag list. */
  details?: string;
}

/** Parsed flags: strings, booleans or string arrays (for `multiple`). */
export type Flags = Record<string, string | boolean | string[] | undefined>;

/** A subcommand: its spec and what it does with the parsed flags (resolves to the exit status). */
export interface Command {
  spec: CommandSpec;
  /** Whether positional arguments are accepted. Default false. */
  positionals?: boolean;
  run(flags: Flags, positionals: string[]): Promise<number>;
}

/** Every subcommand accepts `--help` / `-h`. */
const HELP_FLAG: FlagSpec = { type: 'boolean', short: 'h', description: 'show this help and exit' };

/**
 * Parse `argv` against `spec`.
 * @throws UsageError on an unknown flag, a missing value or an unexpected positional argument.
 */
export function parseCommand(spec: CommandSpec, argv: string[], allowPositionals = false): { flags: Flags; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, f] of Object.entries({ ...spec.flags, help: HELP_FLAG })) {
    options[name] = { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    if (!allowPositionals && positionals.length > 0) {
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, spec.name);
    }
    return { flags: values as Flags, positionals };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // parseArgs' messages are clear ("Unknown option '--x'"); drop its advice about `--`.
    const msg = String((err as Error).message).replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(msg, spec.name);
  }
}

/** Help text of a subcommand. */
export function helpText(spec: CommandSpec): string {
  const rows: [string, string][] = [];
  for (const [name, f] of Object.entries({ ...spec.flags, help: HELP_FLAG })) {
    const short = f.short ? `-${f.short}, ` : '    ';
    const arg = f.type === 'string' ? ` ${f.arg ?? 'VALUE'}` : '';
    rows.push([`${short}--${name}${arg}`, f.description + (f.multiple ? ' (repeatable)' : '')]);
  }
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = rows.map(([l, d]) => `  ${l.padEnd(width)}${l.length >= width ? `\n  ${' '.repeat(width)}` : ''}${d}`);
  return [`syncwire ${spec.name} — ${spec.summary}`, '', `Usage: ${spec.usage}`, '', 'Options:', ...lines, ...(spec.details ? ['', spec.details.trim()] : []), ''].join('\n');
}

/** A string flag's value, or undefined. */
export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** A repeatable string flag's values (empty when absent). */
export function list(flags: Flags, name: string): string[] {
  const v = flags[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/**
 * A positive integer flag, or `fallback` when absent.
 * @throws UsageError when present but not a positive integer.
 */
export function posInt(flags: Flags, name: string, fallback: number, command?: string): number {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${name}: expected a positive integer, got ${JSON.stringify(v)}`, command);
  return n;
}
