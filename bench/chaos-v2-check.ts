/**
 * What the protocol-v2 soak checks once it has settled: the commands an engine retains, and the
 * acknowledged commits missing where they belong (bench/chaos-v2-soak.ts).
 */
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import { fromHex, toHex } from '../protocol/keys.js';
import { FLEET, type SoakAgent } from './chaos-v2-actors.js';

/** Acknowledged commits: scope name → command ids (hex). */
export type Acked = Map<string, Set<string>>;

/** Sorted hex ids `e` retains in scope `name` ([] when it holds none or is closed). */
export function retainedIds(e: EngineV2 | null, name: string): string[] {
  const h = e?.scope(name);
  if (h === undefined) return [];
  const out: string[] = [];
  for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) out.push(toHex(h.store.idOf(i)));
  return out.sort();
}

/** Whether `e` holds command `hex` in scope `name`. */
export const holds = (e: EngineV2 | null, name: string, hex: string): boolean => (e?.scope(name)?.store.indexOf(fromHex(hex)) ?? -1) >= 0;

/**
 * Acknowledged commits missing where they belong, counted by where: at the gateway (every one),
 * and in the replica of the agent whose device scope or fleet scope it is in. Devices keep only
 * their rings, so no device is counted here (the soak's convergence checks their markers).
 */
export function lostCommits(gw: EngineV2, agents: SoakAgent[], deviceAcked: Acked, gwAcked: Acked): Record<string, number> {
  const by: Record<string, number> = {};
  const lose = (who: string): void => void (by[who] = (by[who] ?? 0) + 1);
  for (const a of agents) {
    for (const [scope, set] of a.acked) for (const h of set) {
      if (!holds(gw, scope, h)) lose(`gateway<-${a.name}`);
      if (!holds(a.engine, scope, h)) lose(a.name);
    }
  }
  for (const [scope, set] of deviceAcked) for (const h of set) if (!holds(gw, scope, h)) lose('gateway<-devices');
  for (const [scope, set] of gwAcked) for (const h of set) {
    if (!holds(gw, scope, h)) lose('gateway');
    for (const a of agents) if ((scope === a.own || scope === FLEET) && !holds(a.engine, scope, h)) lose(a.name);
  }
  return by;
}
