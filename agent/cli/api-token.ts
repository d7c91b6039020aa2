/**
 * The HTTP API's bearer token file (config `api.tokenFile`): its content, trimmed, is the token
 * every TCP request must carry. It is a secret, so it gets the key file's rule (keys.ts,
 * path-safety.ts): refused unless owned by the agent's user (or root) and closed to group and
 * others (mode & 0o077 = 0). The check is written out here rather than imported from
 * path-safety.ts because that module imports config.ts, which reads this file (an import cycle).
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { ConfigError } from './config-error.js';

/** Shortest token accepted (characters, after trimming): guessing must stay out of reach. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Read the token.
 * @throws ConfigError when the file is missing or unreadable, owned by another user (not root),
 *   readable or writable by group/others, holds fewer than {@link MIN_TOKEN_LENGTH} characters, or
 *   anything but visible ASCII (no inner spaces or line breaks).
 */
export function readApiToken(path: string): string {
  let st: Stats;
  let text: string;
  try {
    st = statSync(path);
    text = st.isFile() ? readFileSync(path, 'utf8') : '';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ` (create one: head -c 32 /dev/urandom | base64 > ${path}; chmod 600 ${path})` : '';
    throw new ConfigError(`${path}: /api/tokenFile: cannot read: ${code ?? (err as Error).message}${hint}`);
  }
  if (!st.isFile()) throw new ConfigError(`${path}: /api/tokenFile: not a regular file`);
  const me = typeof process.geteuid === 'function' ? process.geteuid() : undefined;
  if (me !== undefined && st.uid !== me && st.uid !== 0) {
    throw new ConfigError(`${path}: API token file is owned by uid ${st.uid}, not by this user (uid ${me}) or root; chown it to the agent's user`);
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new ConfigError(`${path}: API token file mode is ${mode}; it must not be accessible by group or others (chmod 600 ${path})`);
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(`${path}: API token is ${token.length} characters after trimming; at least ${MIN_TOKEN_LENGTH} are required`);
  }
  if (/[^\x21-\x7e]/.test(token)) {
    throw new ConfigError(`${path}: API token must be one line of visible ASCII characters without spaces (it travels in an HTTP header)`);
  }
  return token;
}
