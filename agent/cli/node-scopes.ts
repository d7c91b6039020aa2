/**
 * The scopes of a protocol-2 node as its API and library address them (docs/design/v2-scopes.md
 * §6.1–§6.2): a scope named by name or 64-hex id, or none (then `scopes.default`, else the only
 * scope held, `legacy/v1` not counted); commits (refused for `legacy/v1`), feeds with one engine
 * listener for every follower, and a command looked up by id in every scope.
 */
import { fromHex, toHex } from '../../protocol/keys.js';
import { formatCursor } from '../api/cursor.js';
import { legacyFeedScope, v2FeedScope, type FeedScope, type ScopedEntry } from '../api/scope-feed.js';
import type { CommandStore } from '../store/command-store.js';
import { LEGACY_SCOPE_NAME } from '../store/scope-dir.js';
import type { EngineV2 } from '../sync/engine-v2.js';
import type { ScopeHost } from '../sync/scope-host.js';

/** Why a scope was refused: the API answers 400 `bad_request`, 404 `not_found`, 409 `read_only`. */
export type ScopeErrorReason = 'scope_required' | 'unknown_scope' | 'read_only';

/** A request named no usable scope, or one that cannot take a commit. */
export class ScopeError extends Error {
  override readonly name = 'ScopeError';
  constructor(
    readonly reason: ScopeErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** The legacy v1 store opened as `legacy/v1`, with its local id (§5.5). */
export interface LegacyScope {
  id: Uint8Array;
  store: CommandStore;
}

/** A scope a request named: a hosted one, or the legacy store. */
export type NamedScope = { name: string; host: ScopeHost; legacy?: undefined } | { name: string; host?: undefined; legacy: LegacyScope };

/** Scope addressing of one node (see module doc). */
export class NodeScopes {
  private readonly listeners = new Map<string, Set<() => void>>();
  private readonly onAppended = (e: { scope: string }): void => {
    for (const l of [...(this.listeners.get(e.scope) ?? [])]) l();
  };

  /** @param defaultName `scopes.default` (device/self already replaced), or null. */
  constructor(
    readonly engine: EngineV2,
    readonly legacy: LegacyScope | null,
    private readonly defaultName: string | null,
  ) {
    engine.on('appended', this.onAppended);
  }

  /**
   * The scope `nameOrId` names (a name, `legacy/v1`, or a 64-hex id), or the default one.
   * @throws ScopeError `scope_required` (none named, no default, not exactly one held),
   *   `unknown_scope` (not held, or still being joined).
   */
  resolve(nameOrId?: string): NamedScope {
    const wanted = nameOrId ?? this.defaultName ?? this.onlyScope();
    if (this.legacy && (wanted === LEGACY_SCOPE_NAME || wanted === toHex(this.legacy.id))) return { name: LEGACY_SCOPE_NAME, legacy: this.legacy };
    const host = /^[0-9a-f]{64}$/i.test(wanted) ? this.engine.scopes().find((s) => s.id === wanted.toLowerCase()) : undefined;
    const h = this.engine.scope(host?.name ?? wanted);
    if (h === undefined || h.joining) throw new ScopeError('unknown_scope', `no scope ${JSON.stringify(wanted.slice(0, 120))} is held`);
    return { name: h.name, host: h };
  }

  /** The feed of a named scope. */
  feed(s: NamedScope): FeedScope {
    if (s.legacy) return legacyFeedScope(s.name, s.legacy.store);
    return v2FeedScope(s.name, s.host.store, (l) => this.listen(s.name, l));
  }

  /**
   * Commit `payload` as a data command. @throws ScopeError (see {@link resolve}; `read_only` for
   *   `legacy/v1`) and what `EngineV2.commit` throws.
   */
  async commit(payload: Uint8Array, nameOrId?: string): Promise<{ id: Uint8Array; cursor: string; scope: string }> {
    const s = this.resolve(nameOrId);
    if (s.legacy) throw new ScopeError('read_only', `${LEGACY_SCOPE_NAME} is read-only: the v1 store is kept for reading (design v2-scopes.md §5.5)`);
    const id = await this.engine.commit(s.name, payload);
    return { id, cursor: formatCursor(s.host.store.indexOf(id), id), scope: s.name };
  }

  /** The command `idHex` (64 lowercase hex) from whichever scope holds it, or null. */
  show(idHex: string): ScopedEntry | null {
    const id = fromHex(idHex);
    for (const sum of this.engine.scopes()) {
      const h = this.engine.scope(sum.name);
      const at = h?.store.indexOf(id) ?? -1;
      if (h && at >= 0) return this.feed({ name: h.name, host: h }).entry(at);
    }
    const at = this.legacy?.store.indexOf(id) ?? -1;
    return this.legacy && at >= 0 ? legacyFeedScope(LEGACY_SCOPE_NAME, this.legacy.store).entry(at) : null;
  }

  /** Stop listening to the engine. */
  close(): void {
    this.engine.off('appended', this.onAppended);
    this.listeners.clear();
  }

  private listen(name: string, l: () => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(l);
    return () => {
      set.delete(l);
      if (set.size === 0 && this.listeners.get(name) === set) this.listeners.delete(name);
    };
  }

  private onlyScope(): string {
    const held = this.engine.scopes().filter((s) => !s.joining);
    if (held.length === 1) return held[0]!.name;
    throw new ScopeError('scope_required', `scope required: this agent holds ${held.length} scopes and has no scopes.default`);
  }
}
