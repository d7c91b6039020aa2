/**
 * The scopes a host holds (docs/design/v2-scopes.md §1.9, §5.1, §6.1): one {@link ScopeHost} per
 * scope, found by id or by name (a host holds at most one scope per name), opened from every
 * scope directory at start, created from a genesis, or joined empty from a peer under the join
 * policy of §1.9. Refusals are values (`ScopeDeclined`, `TooManyScopes`), as a `ScopesAck` carries
 * them. Without a data directory every store is in memory (tests, simulations).
 *
 * Link trust is the caller's: the registry is asked about offers from peers it already trusts.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { verifyCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { BadSignatureError, MalformedError, SyncwireError, type ReasonName } from '../../protocol/errors.js';
import { decodeGenesisBody, genesisAuthorKey } from '../../protocol/genesis.js';
import { toHex } from '../../protocol/keys.js';
import { fsyncDir } from '../store/log-format.js';
import { MemoryScopeStore } from '../store/memory-scope-store.js';
import { resolveRetention } from '../store/retention-policy.js';
import { SCOPES_DIR, listScopes, readGenesis, scopeDirOf } from '../store/scope-dir.js';
import type { ScopeStore } from '../store/scope-store-contract.js';
import { DiskScopeStore } from '../store/scope-store.js';
import { OrphanBufferV2 } from './orphans-v2.js';
import { ScopeHost } from './scope-host.js';
import { ScopeMembership } from './scope-membership.js';
import { DEFAULT_MAX_SCOPES, type ScopeRefusal, type ScopeRegistryOptions, type ScopeVerdict } from './scope-registry-types.js';

export { DEFAULT_MAX_SCOPES, type ScopeRefusal, type ScopeRegistryOptions, type ScopeVerdict, type ScopesPolicy } from './scope-registry-types.js';

/** The registry of one host's scopes. */
export class ScopeRegistry {
  private readonly byHex = new Map<string, ScopeHost>();
  private readonly names = new Map<string, ScopeHost>();
  /** Directories found at open that hold no readable genesis (left as they are). */
  unreadable: Array<{ dir: string; why: string }> = [];
  /** The host's orphan buffer, shared by its scopes (bounds over all scopes, decision 23). */
  readonly orphans = new OrphanBufferV2();

  private constructor(private readonly o: ScopeRegistryOptions) {}

  /** Open every scope directory of `dataDir` (none for memory). @throws the store's open errors */
  static async open(o: ScopeRegistryOptions): Promise<ScopeRegistry> {
    const reg = new ScopeRegistry(o);
    if (o.dataDir === undefined) return reg;
    const listing = listScopes(o.dataDir);
    reg.unreadable = listing.unreadable;
    try {
      for (const s of listing.scopes) reg.add(await reg.host(s.id, { byteBound: reg.byteBoundOf(readGenesis(s.dir)) }));
    } catch (err) {
      await reg.close();
      throw err;
    }
    return reg;
  }

  /** Scopes held. */
  get size(): number {
    return this.byHex.size;
  }

  /** `scopes.max`. */
  get max(): number {
    return this.o.scopes?.max ?? DEFAULT_MAX_SCOPES;
  }

  /** Every scope, in no particular order. */
  list(): ScopeHost[] {
    return [...this.byHex.values()];
  }

  byId(id: Uint8Array): ScopeHost | undefined {
    return this.byHex.get(toHex(id));
  }

  /** The scope of that name (the genesis name, or the announced one while joining). */
  byName(name: string): ScopeHost | undefined {
    return this.names.get(name);
  }

  /**
   * Hold the scope `genesis` defines: checked (§1.3: body, an A author, signature), stored, opened.
   * Already held: that host. @throws MalformedError, NotPermittedError, BadSignatureError for a bad genesis
   */
  async create(genesis: CommandV2): Promise<ScopeVerdict> {
    if (genesis.kind !== CommandKind.Genesis) throw new MalformedError('a scope is created from a genesis command (kind 1)');
    const body = decodeGenesisBody(genesis.payload);
    if (!verifyCommandV2(genesis, genesisAuthorKey(body, genesis.author))) throw new BadSignatureError('genesis signature does not verify');
    const held = this.byId(genesis.id);
    if (held !== undefined) return { ok: true, host: held };
    const refused = this.room(body.name);
    if (refused !== undefined) return refused;
    const host = await this.host(genesis.id, { byteBound: this.byteBoundOf(genesis) });
    const r = await host.ingest.receive([genesis.bytes], 'local', 'commit');
    if (r.appended.length !== 1) {
      await this.discard(host);
      const reason = (Object.keys(r.rejected)[0] as ReasonName | undefined) ?? 'Internal';
      throw new SyncwireError(reason, 'the genesis was not accepted');
    }
    await host.store.sync();
    return { ok: true, host: this.add(host) };
  }

  /**
   * §1.9 for a scope `id` a trusted peer offers under `name`, without changing anything: held
   * already (same id), or may be joined, or refused — `ScopeDeclined` when the name is neither
   * `device/<own peer id>` nor a `scopes.join` entry (a pinned entry also requires the id), or
   * another scope of that name is held; `TooManyScopes` at `scopes.max`.
   */
  joinVerdict(name: string, id: Uint8Array): { ok: true; held?: ScopeHost; pinned?: boolean } | ScopeRefusal {
    const held = this.byId(id);
    if (held !== undefined) return { ok: true, held };
    const hex = toHex(id);
    const entries = this.o.scopes?.join ?? [];
    const pinned = entries.some((e) => e.indexOf('@') >= 0 && e.slice(0, e.indexOf('@')) === name && e.slice(e.indexOf('@') + 1).toLowerCase() === hex);
    const wanted = pinned || name === `device/${this.o.identity.peerId}` || entries.includes(name);
    if (!wanted) return { ok: false, reason: 'ScopeDeclined', detail: `scope ${name} is neither this host's device scope nor in scopes.join` };
    return this.room(name) ?? (pinned ? { ok: true, pinned } : { ok: true });
  }

  /**
   * Join the scope `id` offered as `name` by the peer with key `from` ({@link joinVerdict} first):
   * an empty store whose first command must be the genesis (§1.9), granted meanwhile to `from` alone.
   * Drop it with {@link drop} when its first answer refuses the join.
   */
  async join(name: string, id: Uint8Array, from: Uint8Array): Promise<ScopeVerdict> {
    const v = this.joinVerdict(name, id);
    if (!v.ok) return v;
    if (v.held !== undefined) return { ok: true, host: v.held };
    return { ok: true, host: this.add(await this.host(id, { name, joinFrom: from.slice(), joinPinned: v.pinned === true })) };
  }

  /** Stop holding a scope: closed, and its directory deleted when it holds nothing (a refused join). */
  async drop(host: ScopeHost): Promise<void> {
    if (this.byId(host.id) !== host) return;
    this.byHex.delete(toHex(host.id));
    if (this.names.get(host.name) === host) this.names.delete(host.name);
    await this.discard(host);
  }

  /** Close every scope. */
  async close(): Promise<void> {
    const all = this.list();
    this.byHex.clear();
    this.names.clear();
    await Promise.all(all.map((h) => h.close()));
  }

  /** Room for one more scope named `name`, or the refusal. */
  private room(name: string): ScopeRefusal | undefined {
    if (this.names.has(name)) return { ok: false, reason: 'ScopeDeclined', detail: `another scope named ${name} is held` };
    if (this.size >= this.max) return { ok: false, reason: 'TooManyScopes', detail: `${this.size} scopes held (scopes.max ${this.max})` };
    return undefined;
  }

  private add(host: ScopeHost): ScopeHost {
    this.byHex.set(toHex(host.id), host);
    this.names.set(host.name, host);
    return host;
  }

  /** The segment size rule needs the byte bound (§5.3); 0 when unbounded. */
  private byteBoundOf(genesis: CommandV2): number {
    const b = decodeGenesisBody(genesis.payload);
    const bytes = resolveRetention(this.o.scopes?.retention, b.name, b.retention).limits.bytes;
    return Number.isFinite(bytes) ? bytes : 0;
  }

  private async host(id: Uint8Array, o: { byteBound?: number; name?: string; joinFrom?: Uint8Array; joinPinned?: boolean }): Promise<ScopeHost> {
    const m = new ScopeMembership(id);
    let store: ScopeStore;
    if (this.o.dataDir === undefined) store = new MemoryScopeStore(id, this.o.nowS ? { nowS: this.o.nowS } : {});
    else {
      const root = join(this.o.dataDir, SCOPES_DIR);
      const fresh = !existsSync(scopeDirOf(this.o.dataDir, id));
      mkdirSync(root, { recursive: true, mode: 0o700 });
      store = await DiskScopeStore.open(scopeDirOf(this.o.dataDir, id), {
        scopeId: id, durability: this.o.durability ?? { mode: 'always' }, hooks: m.openHooks(), byteBound: o.byteBound ?? 0,
        ...(this.o.nowS ? { nowS: this.o.nowS } : {}), ...(this.o.logger ? { logger: this.o.logger } : {}),
      });
      if (fresh) fsyncDir(root);
    }
    return new ScopeHost({
      store, membership: m, identity: this.o.identity, orphans: this.orphans,
      ...(o.name === undefined ? {} : { name: o.name }), ...(o.joinFrom === undefined ? {} : { joinFrom: o.joinFrom, joinPinned: o.joinPinned === true }),
      ...(this.o.scopes?.retention ? { retention: this.o.scopes.retention } : {}),
      ...(this.o.scheduler ? { scheduler: this.o.scheduler } : {}), ...(this.o.nowS ? { nowS: this.o.nowS } : {}),
      ...(this.o.events ? { events: this.o.events } : {}), ...(this.o.horizonTarget === undefined ? {} : { horizonTarget: this.o.horizonTarget }),
      ...(this.o.batchVerify === undefined ? {} : { batchVerify: this.o.batchVerify }),
      ...(this.o.elide === true ? { elide: true } : {}),
    });
  }

  /** Close `host` and delete its directory if it holds no command. */
  private async discard(host: ScopeHost): Promise<void> {
    const empty = host.store.size === 0;
    await host.close();
    if (empty && this.o.dataDir !== undefined) rmSync(scopeDirOf(this.o.dataDir, host.id), { recursive: true, force: true });
  }
}
