/**
 * `syncwire key show FILE`: the peer id and public key of a key file, never its secret. The
 * file is loaded as an agent loads it (keys.ts `loadKeyFile`), so a key file an agent would refuse
 * — group/other access, another owner, a public key that does not match the secret — is refused
 * here too (exit 78).
 */
import { resolve } from 'node:path';
import { toHex } from '../../protocol/keys.js';
import { UsageError, type Command, type CommandSpec, type Flags } from './args.js';
import { loadKeyFile } from './keys.js';

/** `syncwire key`. */
export const keySpec: CommandSpec = {
  name: 'key',
  summary: "print a key file's peer id and public key (never the secret)",
  usage: 'syncwire key show FILE [--json]',
  flags: {
    json: { type: 'boolean', description: 'print {"peerId","publicKey","file"} as JSON' },
  },
  details: `Put the public key in the trust list (trust.keys or trust.keysFile) of every peer that
must accept this one. The file is checked as an agent checks it: one that group or others can
access, or that another user owns, is refused (exit 78).`,
};

async function runKey(flags: Flags, positionals: string[]): Promise<number> {
  const [sub, file, ...extra] = positionals;
  if (sub !== 'show') throw new UsageError(sub === undefined ? 'expected a subcommand: key show FILE' : `unknown subcommand ${JSON.stringify(sub)} (expected: show)`, 'key');
  if (file === undefined) throw new UsageError('key show: give the key file', 'key');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`, 'key');
  const path = resolve(file);
  const id = loadKeyFile(path);
  const publicKey = toHex(id.publicKey);
  process.stdout.write(flags.json === true ? JSON.stringify({ peerId: id.peerId, publicKey, file: path }) + '\n' : `peer id:    ${id.peerId}\npublic key: ${publicKey}\n`);
  return 0;
}

/** The `key` subcommand. */
export const keyCommand: Command = { spec: keySpec, positionals: true, run: runKey };
