/**
 * The package's version, from its package.json (found from dist/ or from the source tree), read
 * once. Its own module so `syncwire --version` loads nothing else.
 */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The version in package.json, or 'unknown' when no package.json is found. */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  cached = 'unknown';
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      cached = (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
      break;
    } catch {
      /* try the next layout (dist/ or source) */
    }
  }
  return cached;
}
