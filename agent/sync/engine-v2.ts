/**
 * The protocol-v2 engine (docs/design/v2-scopes.md §1.8–§1.9, §3), beside v1's `Engine` until the
 * flag day: a facade — {@link EngineV2.open}, `attach`, `commit`, `createScope`, `scopes`, its
 * events, `close` — over {@link EngineV2Core} (sessions, registry, joins, grants, device scopes),
 * one {@link SessionV2} per link. Scopes sync by poll and, with peers that announce `Push`, by
 * per-(peer, scope) subscriptions and pushes (protocol-v2.md §11).
 *
 * ```ts
 * const gw = await EngineV2.open({ identity, trust: { mode: 'list', keys }, scopes: { max: Infinity, deviceScopes: {} } });
 * await gw.createScope({ name: 'fleet/acme', members: [{ publicKey: identity.publicKey, roles: 7 }], openRead: true });
 * gw.attach(link); // a device that comes up gets device/<its peer id>, opened toward it
 * await gw.commit('fleet/acme', payload);
 * ```
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { encodeCommandV2 } from '../../protocol/command-v2.js';
import { CommandKind, GENESIS_OPEN_READ } from '../../protocol/constants-v2.js';
import { SyncwireError } from '../../protocol/errors.js';
import { encodeGenesisBody, type GenesisRetention, type Member } from '../../protocol/genesis.js';
import { toHex, type Identity } from '../../protocol/keys.js';
import type { Link } from '../link.js';
import { silentLogger, type Logger } from '../node/log.js';
import type { Durability } from '../store/command-store.js';
import type { RetentionConfig } from '../store/retention-policy.js';
import { StoreWriteError } from '../store/write-error.js';
import type { DeviceScopesConfig } from './device-scope.js';
import { EngineClosedError } from './engine-errors.js';
import { EngineV2Tally, type EngineV2Counters } from './engine-v2-counters.js';
import type { PeerRejected, PollAnswered } from './engine-events.js';
import { resolveSettings, type EngineOptions } from './engine-settings.js';
import { EngineV2Core } from './engine-v2-core.js';
import type { ScopeHost } from './scope-host.js';
import { ScopeRegistry } from './scope-registry.js';
import { SessionV2 } from './session-v2.js';
import { KeyDirectory, type TrustMode } from './trust.js';

export type { EngineV2Counters } from './engine-v2-counters.js';

/** `scopes` config of a v2 engine (§6.1). */
export interface EngineV2Scopes {
  /** Names joined when a trusted peer offers them (`fleet/acme`, or pinned `fleet/acme@<64 hex id>`). */
  join?: string[];
  /** `scopes.retention` (§4.1). */
  retention?: RetentionConfig;
  /** Most scopes held. Default 8 (the agent role); a gateway passes Infinity. */
  max?: number;
  /** Set on a gateway: create `device/<peer id>` for each trusted peer that comes up (§1.9). */
  deviceScopes?: DeviceScopesConfig;
}

/** Options of {@link EngineV2.open}. */
export interface EngineV2Options {
  identity: Identity;
  /** Link trust, as v1's. Default `{ mode: 'list', keys: [] }` (the own key is always trusted). */
  trust?: { mode: TrustMode; keys: Uint8Array[] };
  /** Data directory for the scope stores; absent: memory stores. */
  dataDir?: string;
  /** Store durability. Default `{ mode: 'always' }`. */
  durability?: Durability;
  scopes?: EngineV2Scopes;
  logger?: Logger;
  /**
   * v1's tuning knobs the v2 session reuses: `maxFrame`, `pollMaxBytes`, `pollTimeoutMs`,
   * `pollTimeoutMsPerByte`, `pollHint` (bounds of `next_poll_ms`), `backoff`, `rekeyAt`, `now`,
   * `random`, and for subscriptions `subscriptionCapacity` (a power of two, default 128; others
   * make {@link EngineV2.open} throw), `maxRemainOpenS` (900), `subscribe` (what this side asks
   * of peers that push: 600 s and 1 MiB, or false to only poll) and `subscribedPollS` (the
   * anti-entropy poll while subscribed, 300). Defaults as v1's (`ENGINE_DEFAULTS`).
   */
  tuning?: Omit<EngineOptions, 'identity' | 'store' | 'trust' | 'logger'>;
}

/** What {@link EngineV2.createScope} builds: a genesis (§1.3) signed by this engine. */
export interface ScopeFields {
  name: string;
  /** 1..16 members; this engine's key must be one of them with `A`. */
  members: Member[];
  /** Every peer the link trust admits may read the scope (`open_read`). Default false. */
  openRead?: boolean;
  /** Recommended retention. Default none (0 on every axis). */
  retention?: GenesisRetention;
}

/** One scope held, as {@link EngineV2.scopes} lists it. */
export interface ScopeSummary {
  name: string;
  /** Scope id, 64 hex. */
  id: string;
  /** Handles assigned (commands ever appended, pruned ones included). */
  commands: number;
  /** Still waiting for its genesis from the peer it was joined from. */
  joining: boolean;
}

/** Events of a v2 engine. */
export interface EngineV2Events {
  /** A command was appended to a scope (a commit here, or received from the peer `from`; 'local' for commits). */
  appended: [e: { scope: string; scopeId: string; id: Uint8Array; from: string }];
  'peer-up': [peerId: string];
  'peer-down': [peerId: string];
  /** A first handshake refused a peer whose key is not trusted. */
  'peer-rejected': [info: PeerRejected];
  /** A peer's poll answer for a scope was taken in: its `more` and `total` (bootstrap progress). */
  'poll-answer': [answer: PollAnswered];
  /** Observation: a frame was handed to a link (`message` the plaintext, `wire` what went out). */
  'frame-out': [peerId: string, message: Uint8Array, wire: Uint8Array];
}

/** The v2 sync engine. */
export class EngineV2 extends EventEmitter<EngineV2Events> {
  private closed = false;

  private constructor(
    readonly identity: Identity,
    private readonly core: EngineV2Core,
    private readonly tally: EngineV2Tally,
  ) {
    super();
  }

  /** Open the engine and every scope of `dataDir`. @throws SubscriptionCapacityError for a capacity that is not a power of two; the stores' open errors */
  static async open(o: EngineV2Options): Promise<EngineV2> {
    const keys = new KeyDirectory(o.trust?.mode ?? 'list', [o.identity.publicKey, ...(o.trust?.keys ?? [])]);
    const log = o.logger ?? silentLogger;
    let engine: EngineV2 | null = null;
    const tally = new EngineV2Tally();
    const core = new EngineV2Core(o.identity, resolveSettings(o.tuning ?? {}), log, keys, o.scopes?.deviceScopes, {
      up: (s) => engine?.emit('peer-up', s.peerId),
      down: (s) => s.authenticated && engine?.emit('peer-down', s.peerId),
      rejected: (info) => engine?.emit('peer-rejected', info),
      answered: (a) => engine?.emit('poll-answer', a),
      frameOut: (s, m, w) => engine !== null && engine.listenerCount('frame-out') > 0 && engine.emit('frame-out', s.peerId, m, w),
    });
    const registry = await ScopeRegistry.open({
      identity: o.identity,
      ...(o.dataDir === undefined ? {} : { dataDir: o.dataDir }),
      ...(o.durability === undefined ? {} : { durability: o.durability }),
      scopes: { ...(o.scopes?.join ? { join: o.scopes.join } : {}), ...(o.scopes?.retention ? { retention: o.scopes.retention } : {}), ...(o.scopes?.max === undefined ? {} : { max: o.scopes.max }) },
      logger: log,
      batchVerify: core.settings.batchVerify,
      elide: core.settings.elide,
      events: {
        appended: (host, handles, from) => {
          core.appended(host, handles, from);
          // Built only for listeners: a bulk sync appends hundreds of commands per call.
          if (engine === null || engine.listenerCount('appended') === 0) return;
          const scopeId = host.key;
          for (const h of handles) engine.emit('appended', { scope: host.name, scopeId, id: host.store.idOf(h).slice(), from });
        },
        membershipChanged: (host) => core.refreshAll(host.id),
        gap: (host) => tally.gap(host.key),
        error: (host, err) => log.warn({ scope: host.name, err: String(err) }, 'retention run failed'),
      },
    });
    // Left as they are (a crash while a scope was created leaves one with no genesis yet), but
    // said: the operator must know that a scope's data on disk is not being served.
    for (const u of registry.unreadable) log.error({ dir: u.dir, why: u.why }, 'scope directory skipped: its genesis cannot be read (run `syncwire store check`)');
    core.bind(registry);
    engine = new EngineV2(o.identity, core, tally);
    return engine;
  }

  /** This engine's peer id (16 hex). */
  get peerId(): string {
    return this.identity.peerId;
  }

  /** Joined scopes dropped because their first command was not their genesis (§1.9). */
  get joinsRejected(): number {
    return this.core.joinsRejected;
  }

  /**
   * Lifetime counters for status and metrics (§6.2): the ended sessions' version refusals and
   * unknown scope numbers included, join refusals, gap markers written. O(sessions).
   */
  get counters(): EngineV2Counters {
    return this.tally.totals(this.sessions(), this.core.joinsRejected);
  }

  /** Gap markers written to the scope with this id (64 hex) since the engine opened (§4.6). */
  gapsOf(scopeIdHex: string): number {
    return this.tally.gapsOf(scopeIdHex);
  }

  /** The (peer, scope) push subscription table (§11): slots in use (expired ones until reaped) and capacity. */
  get subscriptionSlots(): { used: number; capacity: number } {
    const t = this.core.pusher.table;
    return { used: t.size, capacity: t.capacity };
  }

  /** Whether the peer of `s` holds a push subscription to S here bound to that link and not yet expired (§11.2). */
  subscribedBy(s: SessionV2, scopeId: Uint8Array): boolean {
    const p = this.core.pusher;
    const slot = p.slotOf(s.fingerprint, scopeId);
    return slot >= 0 && p.table.linkAt(slot) === s.linkId && p.table.closeAtOf(slot) > this.core.settings.now();
  }

  /** Attach a link: handshake v2, then sync every scope granted both ways. @throws EngineClosedError after close */
  attach(link: Link): SessionV2 {
    if (this.closed) throw new EngineClosedError();
    const s = new SessionV2(this.core, link);
    this.core.sessions.add(s);
    // After the session's own close listener: its counters are final, and it has left `sessions`.
    link.once('close', () => this.tally.sessionEnded(s.stats));
    return s;
  }

  /**
   * Commit `payload` as a data command to the scope named `scopeName`, on its heads. Resolves with
   * the command id once stored; subscribers of the scope get it pushed, other peers when they next poll.
   * @throws SyncwireError('UnknownScope') when no such scope is held (or it is still being joined);
   *   RetentionFullError and what the scope host's commit throws; StoreWriteError when the
   *   record could not be written (a full disk: not stored, not pushed, its seq used again), also
   *   logged at error, since the operator must free space and the caller may be a remote API client.
   */
  async commit(scopeName: string, payload: Uint8Array): Promise<Uint8Array> {
    if (this.closed) throw new EngineClosedError();
    const h = this.core.scopes.byName(scopeName);
    if (h === undefined || h.joining) throw new SyncwireError('UnknownScope', `no scope named ${scopeName} is held`);
    try {
      return (await h.commit(payload)).id;
    } catch (err) {
      if (err instanceof StoreWriteError) this.core.log.error({ scope: scopeName, err: err.message, reason: err.reason }, 'commit refused: scope store write failed');
      throw err;
    }
  }

  /**
   * Create a scope (an operator's fleet scope): its genesis signed by this engine, stored, and
   * opened toward every up peer it grants. A nonce of 16 random bytes makes it a new scope even
   * under a name used before elsewhere.
   * @throws MalformedError for bad fields, NotPermittedError when this engine is not an `A`
   *   member, SyncwireError('ScopeDeclined' | 'TooManyScopes') when the registry refuses it.
   */
  async createScope(f: ScopeFields): Promise<ScopeHost> {
    if (this.closed) throw new EngineClosedError();
    const me = this.identity;
    const payload = encodeGenesisBody({
      format: 1, name: f.name, nonce: new Uint8Array(randomBytes(16)), flags: f.openRead === true ? GENESIS_OPEN_READ : 0,
      members: f.members, retention: f.retention ?? { maxCommands: 0, maxBytes: 0, maxAgeS: 0 },
    });
    const g = encodeCommandV2(null, { parents: [], author: me.author, seq: 0, kind: CommandKind.Genesis, payload }, (m) => me.sign(m));
    const v = await this.core.scopes.create(g);
    if (!v.ok) throw new SyncwireError(v.reason, v.detail);
    this.core.refreshAll(v.host.id);
    return v.host;
  }

  /** The scope named `name`, if held. */
  scope(name: string): ScopeHost | undefined {
    return this.core.scopes.byName(name);
  }

  /** Every scope held. */
  scopes(): ScopeSummary[] {
    return this.core.scopes.list().map((h) => ({ name: h.name, id: h.key, commands: h.store.size, joining: h.joining }));
  }

  /**
   * Replace the link trust (a reloaded keys file; the own key stays trusted): sessions whose peer
   * is no longer admitted are closed, the others stay as they are, and every scope's grants are
   * re-evaluated (an `open_read` scope follows link trust, §1.8).
   */
  setTrust(mode: TrustMode, keys: readonly Uint8Array[]): { added: number; removed: number; closed: number } {
    const c = this.core;
    const change = c.keys.replace(mode, [...keys, this.identity.publicKey]);
    let closed = 0;
    for (const s of [...c.sessions]) {
      if (s.peerKey === null || c.keys.admits(s.peerKey)) continue;
      c.log.warn({ peer: s.peerId, publicKey: toHex(s.peerKey) }, 'peer no longer trusted; closing its link');
      closed++;
      void s.close();
    }
    for (const h of c.scopes.list()) c.refreshAll(h.id);
    return { ...change, closed };
  }

  /** Every session attached and not yet down. */
  sessions(): SessionV2[] {
    return [...this.core.sessions].filter((s): s is SessionV2 => s instanceof SessionV2);
  }

  /** Close every session, then every scope store. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.core.pusher.close();
    this.core.polls.close();
    await Promise.all([...this.core.sessions].map((s) => s.close()));
    await this.core.scopes.close();
  }
}
