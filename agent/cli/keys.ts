/**
 * Key files and the `keygen` subcommand. A key file is JSON:
 *
 * ```json
 * { "type": "syncwire-ed25519", "secretKey": "<64 hex>", "publicKey": "<64 hex>", "peerId": "<16 hex>" }
 * ```
 *
 * It is written with mode 0600 (atomically: a temp file created exclusively and never through a
 * symlink, fsync, rename). Loading **refuses** (an error, not a warning) a key file that group or
 * others may read or write, or that is owned by a user other than the agent's (or root): a leaked
 * secret lets anyone author commands every peer trusts, which no warning in a log undoes.
 */
import { closeSync, constants, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync, readFileSync, mkdirSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fromHex, generateIdentity, identityFromSecret, toHex, type Identity } from '../../protocol/keys.js';
import { str, type Command, type CommandSpec, type Flags } from './args.js';
import { ConfigError, DEFAULT_DATA_DIR } from './config.js';
import { assertPrivateFile } from './path-safety.js';

/** The `type` field of a key file. */
export const KEY_FILE_TYPE = 'syncwire-ed25519';

/** A key file that cannot be used (missing, malformed, too open). Exit status 78. */
export class KeyFileError extends ConfigError {
  override readonly name: string = 'KeyFileError';
}

/** The JSON written for an identity. */
export function keyFileJson(id: Identity): string {
  return JSON.stringify({ type: KEY_FILE_TYPE, secretKey: toHex(id.secretKey), publicKey: toHex(id.publicKey), peerId: id.peerId }, null, 2) + '\n';
}

/**
 * Write `id` to `path` with mode 0600, creating parent directories (mode 0700).
 * @throws Error with code `EEXIST` when the file exists and `force` is false.
 */
export function writeKeyFile(path: string, id: Identity, force = false): void {
  mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
  // Claim the name first so two concurrent keygens cannot both succeed.
  if (!force) closeSync(openSync(path, 'wx', 0o600));
  const tmp = `${path}.${process.pid}.tmp`;
  let created = false;
  try {
    // Exclusive and no-follow: a file or symlink someone placed at the temp name is never
    // written through (it would receive the secret); keygen fails instead.
    const fd = openTemp(tmp);
    created = true;
    try {
      writeSync(fd, keyFileJson(id));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    for (const f of [...(created ? [tmp] : []), ...(force ? [] : [path])]) {
      try {
        unlinkSync(f);
      } catch {
        /* already gone */
      }
    }
    throw err;
  }
}

/** Temp file flags: create, exclusive, write-only, and never through a symlink (O_NOFOLLOW is POSIX; absent on Windows). */
const TEMP_FLAGS = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | (constants.O_NOFOLLOW ?? 0);

/** Open a new temp file for the secret. @throws KeyFileError when the name is already taken. */
function openTemp(tmp: string): number {
  try {
    return openSync(tmp, TEMP_FLAGS, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ELOOP') {
      throw new KeyFileError(`${tmp}: temp file already exists (a crashed keygen, or placed by someone else); not writing the secret through it. Check and remove it, then retry`);
    }
    throw err;
  }
}

/**
 * Read a key file.
 * @throws KeyFileError when missing, readable or writable by group/others, malformed, or when
 *   its public key or peer id does not match its secret.
 */
export function loadKeyFile(path: string): Identity {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new KeyFileError(`${path}: no key file; create one with: syncwire keygen --out ${path}`);
    }
    throw new KeyFileError(`${path}: ${(err as Error).message}`);
  }
  try {
    assertPrivateFile(path, st, 'key file');
  } catch (err) {
    throw new KeyFileError((err as Error).message);
  }
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new KeyFileError(`${path}: not a key file: ${(err as Error).message}`);
  }
  if (typeof j !== 'object' || j === null || j.type !== KEY_FILE_TYPE || typeof j.secretKey !== 'string' || !/^[0-9a-f]{64}$/i.test(j.secretKey)) {
    throw new KeyFileError(`${path}: /secretKey: expected 64 hex chars in a "${KEY_FILE_TYPE}" key file`);
  }
  const id = identityFromSecret(fromHex(j.secretKey));
  if (j.publicKey !== undefined && String(j.publicKey).toLowerCase() !== toHex(id.publicKey)) {
    throw new KeyFileError(`${path}: /publicKey does not match the secret key`);
  }
  if (j.peerId !== undefined && j.peerId !== id.peerId) throw new KeyFileError(`${path}: /peerId does not match the secret key`);
  return id;
}

/** `syncwire keygen`. */
export const keygenSpec: CommandSpec = {
  name: 'keygen',
  summary: 'create an ed25519 identity (key file, mode 0600)',
  usage: 'syncwire keygen [--out FILE] [--force] [--json]',
  flags: {
    out: { type: 'string', short: 'o', arg: 'FILE', description: `key file to write (default ${DEFAULT_DATA_DIR}/key.json)` },
    force: { type: 'boolean', short: 'f', description: 'overwrite an existing key file (its identity is lost)' },
    json: { type: 'boolean', description: 'print {"peerId","publicKey","file"} as JSON' },
  },
  details: `Prints the peer id and the public key (\`syncwire key show FILE\` prints them again later). Put
the public key in the trust list ("trust.keys" or the trust.keysFile) of every peer that must
accept this one. The file holds the secret: it is created with mode 0600 and agents refuse to
load a key file that group or others can access.`,
};

/** The `keygen` subcommand. */
export const keygenCommand: Command = { spec: keygenSpec, run: runKeygen };

async function runKeygen(flags: Flags): Promise<number> {
  const out = resolve(str(flags, 'out') ?? `${DEFAULT_DATA_DIR}/key.json`);
  const id = generateIdentity();
  try {
    writeKeyFile(out, id, flags.force === true);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      process.stderr.write(`syncwire keygen: ${out} exists; pass --force to overwrite it (the old identity is lost)\n`);
      return 1;
    }
    throw err;
  }
  if (flags.json === true) process.stdout.write(JSON.stringify({ peerId: id.peerId, publicKey: toHex(id.publicKey), file: out }) + '\n');
  else process.stdout.write(`peer id:    ${id.peerId}\npublic key: ${toHex(id.publicKey)}\nkey file:   ${out}\n`);
  return 0;
}
