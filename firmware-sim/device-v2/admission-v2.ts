/**
 * The v2 device's join policy for the peer's `Scopes` open entries (§7 item 2, §3.3 receiver
 * rule 3 as the scope table applies it): a scope it holds is taken back into its slot when the
 * device's view grants it to the peer (§1.8); a scope it does not hold is joined only when it is
 * `device/<own peer id>` (into slot 0) or one of `joinScopes` (into a free slot 1–3), one scope per
 * name. Pure: the caller's scope slots are the only state, and only `begin` changes them.
 */
import { ReasonCode } from '../../protocol/errors.js';
import { sameId } from './scope-ring-v2.js';
import type { DeviceScope } from './scope-v2.js';

/** What the policy decides for one open entry. */
export type Admission = { slot: number } | { refuse: number };

/** The device's side of the decision: its slots, the peer and its own policy. */
export interface AdmissionPolicy {
  /** The device's scope slots; slot 0 is reserved for the device scope. */
  readonly scopes: readonly DeviceScope[];
  /** The authenticated peer's key (null: not up, so nothing held is granted). */
  readonly peerKey: Uint8Array | null;
  /** The device's own peer id (16 hex). */
  readonly peerId: string;
  /** Names besides the device scope the device joins. */
  readonly joinScopes: readonly string[];
}

/**
 * Decide the peer's open entry (`id`, `name`): the slot that takes it (a new scope is begun in it,
 * `joining`), or the reason code to refuse it with (`NotAMember`, `ScopeDeclined`, `TooManyScopes`).
 */
export function admitScope(p: AdmissionPolicy, id: Uint8Array, name: string): Admission {
  const held = p.scopes.find((s) => s.state !== 'free' && sameId(s.id, id));
  if (held !== undefined) return p.peerKey !== null && held.grants(p.peerKey) ? { slot: held.slot } : { refuse: ReasonCode.NotAMember };
  const own = name === `device/${p.peerId}`;
  if (!own && !p.joinScopes.includes(name)) return { refuse: ReasonCode.ScopeDeclined };
  // one scope per name; a second `device/<id>` is declined.
  if (p.scopes.some((s) => s.state !== 'free' && s.name === name)) return { refuse: ReasonCode.ScopeDeclined };
  const slot = own ? p.scopes[0] : p.scopes.find((s) => s.slot > 0 && s.state === 'free');
  if (slot === undefined || slot.state !== 'free') return { refuse: ReasonCode.TooManyScopes };
  slot.begin(id, name);
  return { slot: slot.slot };
}
