/** Shared by the v2 engine tests: fast pacing, and the retained command ids of a scope. */
import type { EngineV2, EngineV2Options } from '../agent/sync/engine-v2.js';
import { toHex } from '../protocol/keys.js';

/** Fast pacing: a round every 20–80 ms, backoff from 20 ms, polls time out after 400 ms. */
export const FAST_V2: NonNullable<EngineV2Options['tuning']> = {
  pollHint: { minMs: 20, maxMs: 80 },
  backoff: { baseMs: 20, capMs: 200, floorMs: 5, jitter: 0.2 },
  pollTimeoutMs: 400,
  pollTimeoutMsPerByte: 0,
};

/** Sorted hex ids of the commands `e` retains in the scope `name` ([] when it holds none). */
export function idsIn(e: EngineV2, name: string): string[] {
  const h = e.scope(name);
  if (h === undefined) return [];
  const out: string[] = [];
  for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) out.push(toHex(h.store.idOf(i)));
  return out.sort();
}
