/**
 * The trusted-keys file (config `trust.keysFile`): one ed25519 public key per line, as 64 hex
 * characters, then optionally whitespace and a label naming the peer (logged when the key is added
 * or removed). Blank lines and lines starting with `#` are ignored; a label may also be written
 * after a `#` (`<key>  # gateway`). Example:
 *
 * ```text
 * # gateways
 * 3ee739288b1b600f701828f25630b58cac1e40b4d75b48935617dc3f5b61ee4b  gw-north
 * 5b923db411e11ee0c4f1...                                           # pi-kitchen
 * ```
 *
 * A malformed line or a key listed twice makes the whole file invalid (never "the good lines
 * only": a typo must not silently drop a peer), and the error names every bad line. Who can
 * write this file decides who may connect, so it is refused, like the data directory, when it is
 * owned by another user than the agent's (or root) or group/others may write it.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { fromHex } from '../../protocol/keys.js';
import { ConfigError } from './config-error.js';

/** Why a trust file was refused. */
export type TrustFileReason = 'Unreadable' | 'TooLarge' | 'BadLine' | 'DuplicateKey' | 'UnsafeOwner' | 'UnsafeMode';

/** A trust file that cannot be used. A {@link ConfigError} (exit 78 at start-up); a reload keeps the old trust. */
export class TrustFileError extends ConfigError {
  override readonly name: string = 'TrustFileError';
  override readonly reason: TrustFileReason;
  /** 1-based line of the first problem, or null when the file as a whole is the problem. */
  readonly line: number | null;
  constructor(reason: TrustFileReason, line: number | null, message: string) {
    super(message);
    this.reason = reason;
    this.line = line;
  }
}

/** A parsed trust file. */
export interface TrustFile {
  /** Raw 32-byte public keys, in file order, no duplicates. */
  keys: Uint8Array[];
  /** Label by lowercase hex key, for keys that have one. */
  labels: Map<string, string>;
}

/** One line of a trust file as {@link formatTrustFile} writes it. */
export interface TrustEntry {
  /** 64 hex characters (any case; written lowercase). */
  key: string;
  /** Optional label: no line breaks, no leading or trailing whitespace (it is trimmed when read). */
  label?: string;
}

/** Largest trust file read (16,000 keys with labels fit): a wrong path (a log, a device) fails fast. */
export const MAX_TRUST_FILE_BYTES = 1 << 20;

/** Problems listed in one error message; the rest are counted. */
const MAX_LISTED = 10;

const LINE = /^([0-9a-fA-F]{64})(?:\s+(.*))?$/;

/**
 * Parse trust-file text. `path` only names the file in messages.
 * @throws TrustFileError `BadLine` or `DuplicateKey` (the first problem's reason and line; the
 *   message lists up to ten, as `<path>:<line>: <problem>`).
 */
export function parseTrustFile(text: string, path: string): TrustFile {
  const keys: Uint8Array[] = [];
  const labels = new Map<string, string>();
  const firstLine = new Map<string, number>();
  const problems: { reason: TrustFileReason; line: number; text: string }[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = LINE.exec(line);
    if (m === null) {
      problems.push({ reason: 'BadLine', line: n, text: badLine(line) });
      return;
    }
    const hex = m[1]!.toLowerCase();
    const seen = firstLine.get(hex);
    if (seen !== undefined) {
      problems.push({ reason: 'DuplicateKey', line: n, text: `key ${hex.slice(0, 16)}… is already listed on line ${seen}` });
      return;
    }
    firstLine.set(hex, n);
    keys.push(fromHex(hex));
    let label = (m[2] ?? '').trim();
    if (label.startsWith('#')) label = label.slice(1).trim();
    if (label !== '') labels.set(hex, label);
  });
  const first = problems[0];
  if (first !== undefined) {
    const listed = problems.slice(0, MAX_LISTED).map((p) => `${path}:${p.line}: ${p.text}`);
    if (problems.length > MAX_LISTED) listed.push(`${path}: … and ${problems.length - MAX_LISTED} more bad lines`);
    throw new TrustFileError(first.reason, first.line, listed.join('\n'));
  }
  return { keys, labels };
}

function badLine(line: string): string {
  const word = /^\S+/.exec(line)?.[0] ?? '';
  const shown = JSON.stringify(line.length > 40 ? line.slice(0, 37) + '...' : line);
  if (/^[0-9a-fA-F]+$/.test(word)) return `expected a 64-hex-char public key, got ${word.length} hex chars (${shown})`;
  return `expected a 64-hex-char public key, then optionally a label; got ${shown}`;
}

/**
 * Read and parse a trust file (synchronously: it is small, and a reload must see one version).
 * @throws TrustFileError `Unreadable` (missing, a directory, no permission), `TooLarge`,
 *   `UnsafeOwner`/`UnsafeMode`, or a parse problem ({@link parseTrustFile}).
 */
export function readTrustFile(path: string): TrustFile {
  let st: Stats;
  let text: string;
  try {
    st = statSync(path);
    if (!st.isFile()) throw new TrustFileError('Unreadable', null, `${path}: trust file is not a regular file`);
    if (st.size > MAX_TRUST_FILE_BYTES) throw new TrustFileError('TooLarge', null, `${path}: trust file is ${st.size} bytes; at most ${MAX_TRUST_FILE_BYTES} are read`);
    assertSafe(path, st);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof TrustFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new TrustFileError('Unreadable', null, `${path}: cannot read the trust file: ${code ?? (err as Error).message}`);
  }
  return parseTrustFile(text, path);
}

/** Owner: us or root; not writable by group or others (the rule path-safety.ts applies to the data directory). */
function assertSafe(path: string, st: Stats): void {
  const me = typeof process.geteuid === 'function' ? process.geteuid() : undefined;
  if (me !== undefined && st.uid !== me && st.uid !== 0) {
    throw new TrustFileError('UnsafeOwner', null, `${path}: trust file is owned by uid ${st.uid}, not by this user (uid ${me}) or root; chown it`);
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new TrustFileError('UnsafeMode', null, `${path}: trust file mode is ${mode}; group and others must not be able to write it (chmod 644 ${path})`);
  }
}

/** The text of a trust file listing `entries` (what {@link parseTrustFile} reads back), after optional `#` comment lines. */
export function formatTrustFile(entries: readonly TrustEntry[], comment: readonly string[] = []): string {
  const out = comment.map((c) => `# ${c}`.trimEnd());
  for (const e of entries) {
    const key = e.key.toLowerCase();
    const label = e.label ?? '';
    // A label starting with '#' is written after a '#' so that reading strips only that one.
    out.push(label === '' ? key : label.startsWith('#') ? `${key} # ${label}` : `${key} ${label}`);
  }
  return out.map((l) => l + '\n').join('');
}
