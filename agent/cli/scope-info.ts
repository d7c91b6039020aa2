/**
 * The scope entries of a protocol-2 agent's status and of `GET /v1/scopes` (docs/design/
 * v2-scopes.md §6.2; docs/STATUS.md "Protocol 2"). Everything is read from what the stores and
 * the engine keep anyway: no walk over a scope's handles (pinned is O(pinned); bytes are a memory
 * store's running total, or a disk store's segment log size as its writers track it, O(segments)
 * and no `stat`), so a gateway with thousands of scopes answers quickly.
 */
import { Role } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { CommandStore } from '../store/command-store.js';
import { DiskStore } from '../store/disk-store.js';
import type { ResolvedRetention } from '../store/retention-policy.js';
import { LEGACY_SCOPE_NAME } from '../store/scope-dir.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';
import { ScopeStoreBase } from '../store/scope-store-base.js';
import { DiskScopeStore } from '../store/scope-store.js';
import type { EngineV2 } from '../sync/engine-v2.js';
import type { ScopeHost } from '../sync/scope-host.js';

/** The retention in force for a scope (§4.1), as JSON: `null` bounds are unbounded. */
export interface RetentionInfo {
  /** Most data commands counted (§4.1), null: no bound. */
  commands: number | null;
  /** Most bytes of counted commands, null: no bound. */
  bytes: number | null;
  /** Oldest counted command kept, seconds since it was appended here; null: no bound. */
  ageS: number | null;
  /** Where it came from: a `scopes.retention` key, the genesis, or the default (forever). */
  from: 'config' | 'genesis' | 'default';
  /** The `scopes.retention` key that matched (`from: 'config'`), else null. */
  key: string | null;
}

/** One scope as status and `GET /v1/scopes` show it. */
export interface ScopeInfo {
  name: string;
  /** Scope id, 64 hex (the local id for `legacy/v1`). */
  id: string;
  /** This host's roles in it as letters (`rwa`), '' for none; `null` for `legacy/v1`. */
  roles: string | null;
  /** Handles assigned (commands ever appended, pruned ones included). */
  commands: number;
  /** Commands still held (retained: from `base` on, and the pinned ones below it). */
  retained: number;
  /** Retained commands below `base`: data heads pruning kept, and membership commands. */
  pinned: number;
  /** Bytes of the scope: a memory store's retained encodings, a disk store's segment log (`legacy/v1`: its log); null when unknown. */
  bytes: number | null;
  /** Smallest handle from which every command is retained. */
  base: number;
  /** Horizon entries (pruned or never-held parents of retained commands). */
  horizon: number;
  /** The resolved retention policy; null while joining (no genesis yet) and for `legacy/v1`. */
  retention: RetentionInfo | null;
  /** Gap markers written to the scope since the process started (§4.6: one gap line each). */
  gaps: number;
  /** Poll answers that left out a command held without its signature since the process started (§10.3 step 3a). */
  heldSkips: number;
  /** Authenticated peers the scope is active with now (both entries open, §3.3). */
  activePeers: number;
  /** Still waiting for its genesis from the peer it was joined from. */
  joining: boolean;
  /** `legacy/v1`: commits are refused (409 `read_only`). */
  readOnly: boolean;
}

/** Role bits as letters r, w, a. */
export function rolesText(bits: number): string {
  return `${bits & Role.Read ? 'r' : ''}${bits & Role.Write ? 'w' : ''}${bits & Role.Admin ? 'a' : ''}`;
}

const bound = (n: number): number | null => (Number.isFinite(n) ? n : null);

/** A resolved retention as JSON (Infinity is not JSON: unbounded is null). */
export function retentionInfo(r: ResolvedRetention): RetentionInfo {
  const { limits: l, source: s } = r;
  return { commands: bound(l.commands), bytes: bound(l.bytes), ageS: bound(l.ageS), from: s.from, key: s.from === 'config' ? s.key : null };
}

/** Retained handles below base; the one-by-one count only for a store that is not a {@link ScopeStoreBase}. */
function pinnedOf(s: ScopeStoreReader): number {
  if (s instanceof ScopeStoreBase) return s.pinnedCount;
  let n = 0;
  for (let i = 0; i < s.base; i++) if (s.isRetained(i)) n++;
  return n;
}

/** Scope id (hex) → authenticated sessions it is active with, over every session. O(active entries). */
export function activePeerCounts(engine: EngineV2): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of engine.sessions()) {
    if (!s.authenticated) continue;
    for (const key of s.table.theirs.keys()) if (s.table.ownState(key) === 'open') out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/**
 * A scope's `bytes`: a disk store's segment log (the `seg-*.log` files, each file's bytes plus
 * records staged for its next write, as v1's `storeBytes` counts its log: `members.log` and
 * `horizon.bin` are not counted), a memory store's retained encodings, else null.
 */
function bytesOf(s: ScopeStoreReader): number | null {
  if (s instanceof DiskScopeStore) return s.segments.segments.reduce((n, seg) => n + seg.file.size, 0);
  return s instanceof ScopeStoreBase ? s.retainedBytes : null;
}

/** The status entry of one hosted scope; `active` from {@link activePeerCounts}. */
export function scopeInfo(engine: EngineV2, h: ScopeHost, active: ReadonlyMap<string, number> = activePeerCounts(engine)): ScopeInfo {
  const s = h.store;
  const id = toHex(h.id);
  const pinned = pinnedOf(s);
  const policy = h.retentionPolicy;
  return {
    name: h.name, id, roles: rolesText(h.membership.roles(engine.identity.publicKey)), commands: s.size,
    retained: s.size - s.base + pinned, pinned, bytes: bytesOf(s), base: s.base,
    horizon: s.horizon().length, retention: policy === null ? null : retentionInfo(policy), gaps: engine.gapsOf(id),
    heldSkips: h.heldSkips, activePeers: active.get(id) ?? 0, joining: h.joining, readOnly: false,
  };
}

const EMPTY = { retained: 0, pinned: 0, bytes: null, base: 0, horizon: 0, retention: null, gaps: 0, heldSkips: 0, activePeers: 0, readOnly: false } as const;

/** Every scope held, `legacy/v1` last. */
export function scopeInfos(engine: EngineV2, legacy: { id: Uint8Array; store: CommandStore } | null): ScopeInfo[] {
  const active = activePeerCounts(engine);
  const out: ScopeInfo[] = [];
  for (const sum of engine.scopes()) {
    const h = engine.scope(sum.name);
    // A name the registry no longer maps (a scope dropped meanwhile): listed from its summary.
    if (h !== undefined) out.push(scopeInfo(engine, h, active));
    else out.push({ ...EMPTY, name: sum.name, id: sum.id, roles: '', commands: sum.commands, joining: sum.joining });
  }
  if (legacy) {
    const n = legacy.store.size;
    out.push({
      name: LEGACY_SCOPE_NAME, id: toHex(legacy.id), roles: null, commands: n, retained: n, pinned: 0,
      bytes: legacy.store instanceof DiskStore ? legacy.store.bytes : null, base: 0, horizon: 0, retention: null, gaps: 0, heldSkips: 0,
      activePeers: 0, joining: false, readOnly: true,
    });
  }
  return out;
}
