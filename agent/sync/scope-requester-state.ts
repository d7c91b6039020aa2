/**
 * What a {@link ScopeHost} remembers per peer it polls (docs/design/v2-scopes.md §4.6): the
 * pending records of the round, the responder's last heads, and the responder heads this host
 * will not keep, which are named in every sample so that they stop being resent.
 */
import { decodeCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { ScopeStore } from '../store/scope-store-contract.js';
import type { OrphanBufferV2 } from './orphans-v2.js';
import { PendingRecords } from './pending-records.js';

/** Per-peer poll state of one hosted scope. */
export interface RequesterState {
  pending: PendingRecords;
  responderHeads: Uint8Array[];
  /** Responder heads it sent that this host will not keep (pruned here, or refused): named in every sample. */
  unwanted: Uint8Array[];
}

/** Most unwanted responder heads named per peer (they share the sample's 32 slots). */
export const MAX_UNWANTED = 8;

/** A fresh {@link RequesterState}: no pending records, no responder heads, nothing unwanted. */
export function newRequesterState(): RequesterState {
  return { pending: new PendingRecords(), responderHeads: [], unwanted: [] };
}

/**
 * A responder's head that this host pruned (a head left behind there by a window cut: its
 * children never reached it) is in every M it computes for this host, so it would be resent on
 * every poll; naming it in the sample puts it in K. Only heads carried in the finished round
 * and neither placed nor waiting as orphans are named (one that did not fit is never named): a
 * command pruned here, or one refused here, which an honest responder (having accepted it)
 * never sends and a dishonest one could withhold anyway.
 * @param store the scope's store (what is held or in the horizon here)
 * @param orphans the host's orphan buffer (what waits for parents here)
 */
export function unwantedHeads(store: ScopeStore, orphans: OrphanBufferV2, st: RequesterState, heads: readonly Uint8Array[], carried: readonly Uint8Array[]): Uint8Array[] {
  const lacking = new Set(heads.filter((id) => store.indexOf(id) < 0 && store.horizonEntry(id) === undefined).map(toHex));
  for (const id of st.unwanted) if (lacking.has(toHex(id))) lacking.add(`kept:${toHex(id)}`);
  if (lacking.size === 0) return [];
  const out = st.unwanted.filter((id) => lacking.has(toHex(id)));
  const scopeHex = toHex(store.scopeId);
  for (const bytes of carried) {
    let cmd: CommandV2;
    try {
      cmd = decodeCommandV2(store.scopeId, bytes);
    } catch {
      continue;
    }
    const hex = toHex(cmd.id);
    if (lacking.has(hex) && !lacking.has(`kept:${hex}`) && !orphans.has(scopeHex, cmd)) out.push(cmd.id.slice());
  }
  return out.slice(-MAX_UNWANTED);
}
