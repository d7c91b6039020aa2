/**
 * The `durability` setting as written in config and on the command line:
 * `always`, `batch:<ms>` or `none`.
 */
import type { Durability } from './command-store.js';
import { StoreError } from './store-errors.js';

/**
 * Parse a durability setting: `always`, `none`, or `batch:<ms>` with `ms` a positive integer
 * (milliseconds between fsyncs). Surrounding whitespace is ignored; case matters.
 * @throws StoreError 'bad-durability' (exit status 78) naming the bad value and the accepted forms.
 */
export function parseDurability(s: string): Durability {
  const v = s.trim();
  if (v === 'always') return { mode: 'always' };
  if (v === 'none') return { mode: 'none' };
  const m = /^batch:([0-9]+)$/.exec(v);
  if (m !== null) {
    const ms = Number(m[1]);
    if (Number.isSafeInteger(ms) && ms > 0) return { mode: 'batch', ms };
  }
  throw new StoreError('bad-durability', undefined, `invalid durability ${JSON.stringify(s)}: expected "always", "none" or "batch:<ms>" with ms a positive integer`);
}

/** The setting back in its textual form (for logs and status output). */
export function formatDurability(d: Durability): string {
  return d.mode === 'batch' ? `batch:${d.ms}` : d.mode;
}
