/**
 * What bench/chaos-v2-crash.ts reads and damages: a scope's ids through an agent's API, a torn
 * record at the tail of a scope directory's last segment, and the store's repair lines in a log.
 */
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { apiRequest } from '../agent/api/api-client.js';
import { recordHeadV3, RECORD_HEAD_BYTES_V3 } from '../agent/store/log-format-v3.js';
import { SEGMENT_PATTERN } from '../agent/store/segment-log.js';

/** The warn line of a scope store that cut a torn tail (scope-load.ts). */
const TORN_LINE = /truncated torn tail/g;

/** How many torn tails the agent whose stderr is `stderr` cut while opening its stores. */
export const tornRepairsIn = (stderr: string): number => stderr.match(TORN_LINE)?.length ?? 0;

/** The ids of `scope` at the API socket `sock` (gap lines skipped). @throws what apiRequest throws */
export async function scopeIds(sock: string, scope: string): Promise<Set<string>> {
  const r = await apiRequest({ socketPath: sock }, 'GET', `/v1/commands?scope=${encodeURIComponent(scope)}`, { timeoutMs: 30_000 });
  const out = new Set<string>();
  for (const l of r.text.split('\n')) {
    if (l === '') continue;
    const e = JSON.parse(l) as { id?: unknown };
    if (typeof e.id === 'string') out.add(e.id);
  }
  return out;
}

/**
 * Append what a power cut mid-write leaves to the last segment of `scopeDir` (the store must be
 * closed): a v3 record head promising 200 bytes, and 57 of them. @throws Error when it has no segment
 */
export function writeTornTail(scopeDir: string): void {
  const segs = readdirSync(scopeDir).filter((n) => SEGMENT_PATTERN.test(n)).sort();
  const last = segs[segs.length - 1];
  if (last === undefined) throw new Error(`${scopeDir}: no segment`);
  const body = Buffer.alloc(200, 0xa5);
  appendFileSync(join(scopeDir, last), Buffer.concat([recordHeadV3(body, Math.floor(Date.now() / 1000)), body]).subarray(0, RECORD_HEAD_BYTES_V3 + 57));
}
