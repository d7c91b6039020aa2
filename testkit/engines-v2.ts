/**
 * Protocol-2 engines for tests: a gateway {@link EngineV2} (device scopes on, an open-read fleet
 * scope {@link FLEET_V2} it created) and devices that join the fleet scope, linked by memory links
 * ({@link connectV2}) or through real transports and brokers ({@link NodeV2.open}). A gateway
 * commit goes to the fleet scope and reaches every device, a device commit goes to its own device
 * scope and reaches the gateway.
 *
 * @example
 * const [gw, dev] = await fleetV2(2);
 * await gw.open(`mqtt-listen://127.0.0.1:${port}`);
 * await dev.open(`mqtt://127.0.0.1:${port}/${gw.id}`);
 * await until(() => dev.has(await gw.commit('hi')), 20_000, 'pushed');
 */
import type { Link } from '../agent/link.js';
import { createMemoryLinkPair, type MemoryLinkFaults } from '../agent/memory-link.js';
import type { Logger } from '../agent/node/log.js';
import { deviceScopeName } from '../agent/sync/device-scope.js';
import { EngineV2, type EngineV2Options } from '../agent/sync/engine-v2.js';
import type { SessionV2 } from '../agent/sync/session-v2.js';
import { openTransport, type OpenedTransport, type TransportOptions } from '../agent/transport/registry.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { until } from './wait.js';

/** The fleet scope every {@link fleetV2} gateway creates and every device joins. */
export const FLEET_V2 = 'fleet/test';

/** Fast pacing for memory-link runs: a round every 20–80 ms, backoff from 20 ms, polls time out after 400 ms. */
export const FAST_TUNING_V2: NonNullable<EngineV2Options['tuning']> = {
  pollHint: { minMs: 20, maxMs: 80 },
  backoff: { baseMs: 20, capMs: 200, floorMs: 5, jitter: 0.2 },
  pollTimeoutMs: 400,
  pollTimeoutMsPerByte: 0,
};

/** What a node is opened with beside its identity and trust. */
export interface NodeV2Options {
  tuning?: EngineV2Options['tuning'];
  logger?: Logger;
}

/** A v2 engine with the transports it opened; `up` holds the peers it has an authenticated link with. */
export class NodeV2 {
  readonly up = new Set<string>();
  readonly transports: OpenedTransport[] = [];
  readonly warnings: Error[] = [];
  /** Every session `attach` returned, oldest first. */
  readonly sessions: SessionV2[] = [];

  private constructor(
    readonly engine: EngineV2,
    readonly gateway: boolean,
  ) {
    engine.on('peer-up', (p) => this.up.add(p));
    engine.on('peer-down', (p) => this.up.delete(p));
  }

  /** A gateway (device scopes on) that created the open-read {@link FLEET_V2}, or a device that joins it. */
  static async open(identity: Identity, trusted: Uint8Array[], gateway: boolean, o: NodeV2Options = {}): Promise<NodeV2> {
    const engine = await EngineV2.open({
      identity,
      trust: { mode: 'list', keys: trusted },
      ...(o.tuning === undefined ? {} : { tuning: o.tuning }),
      ...(o.logger === undefined ? {} : { logger: o.logger }),
      scopes: gateway ? { max: Infinity, deviceScopes: {} } : { join: [FLEET_V2] },
    });
    if (gateway) await engine.createScope({ name: FLEET_V2, members: [{ publicKey: identity.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
    return new NodeV2(engine, gateway);
  }

  get id(): string {
    return this.engine.peerId;
  }

  get identity(): Identity {
    return this.engine.identity;
  }

  /** Where {@link commit} writes by default: the fleet scope on a gateway, the device's own scope on a device. */
  get defaultScope(): string {
    return this.gateway ? FLEET_V2 : deviceScopeName(this.identity.publicKey);
  }

  /** Open a transport and hand every link it yields to the engine. */
  async open(url: string, opts: TransportOptions = {}): Promise<OpenedTransport> {
    const t = await openTransport(url, { selfId: this.id, ...opts });
    this.transports.push(t);
    t.on('warn', (e) => this.warnings.push(e));
    t.on('link', (l) => void this.sessions.push(this.engine.attach(l)));
    return t;
  }

  /** Attach a link made elsewhere (a memory link); returns its session. */
  attach(link: Link): SessionV2 {
    const s = this.engine.attach(link);
    this.sessions.push(s);
    return s;
  }

  /** The newest authenticated session with `peerId` whose link is open, if any. */
  sessionWith(peerId: string): SessionV2 | undefined {
    for (let i = this.sessions.length - 1; i >= 0; i--) {
      const s = this.sessions[i]!;
      if (s.peerId === peerId && s.authenticated && s.link.open) return s;
    }
    return undefined;
  }

  /**
   * Commit a small payload to `scope` (default {@link defaultScope}); returns its id as hex. A
   * device learns its device scope from the gateway's first link, so this waits for the scope to
   * exist first (20 s bound).
   */
  async commit(text: string, scope = this.defaultScope): Promise<string> {
    if (this.engine.scope(scope) === undefined) await until(() => this.engine.scope(scope) !== undefined, 20_000, `${this.id} holds the scope ${scope}`);
    return toHex(await this.engine.commit(scope, new TextEncoder().encode(text)));
  }

  /** Whether any scope here retains the command `idHex`. */
  has(idHex: string): boolean {
    for (const s of this.engine.scopes()) {
      const h = this.engine.scope(s.name)!;
      for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i) && toHex(h.store.idOf(i)) === idHex) return true;
    }
    return false;
  }

  /** Sorted hex ids retained in scope `name` ([] when this node does not hold it). */
  idsIn(name: string): string[] {
    const h = this.engine.scope(name);
    if (h === undefined) return [];
    const out: string[] = [];
    for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) out.push(toHex(h.store.idOf(i)));
    return out.sort();
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.transports.splice(0).map((t) => t.close()));
    await this.engine.close();
  }
}

/**
 * `n` nodes that all trust each other (and `extraTrusted`): the first a gateway, the rest
 * devices. `opts(i)` gives node i its own options (a capturing logger, tuning).
 */
export async function fleetV2(n: number, opts: NodeV2Options | ((i: number) => NodeV2Options) = {}, extraTrusted: Uint8Array[] = []): Promise<NodeV2[]> {
  const ids = Array.from({ length: n }, () => generateIdentity());
  const keys = [...ids.map((i) => i.publicKey), ...extraTrusted];
  return Promise.all(ids.map((id, i) => NodeV2.open(id, keys, i === 0, typeof opts === 'function' ? opts(i) : opts)));
}

/** Link `a` and `b` by a memory link pair: the links, then the two sessions (A's, B's). */
export function connectV2(a: NodeV2, b: NodeV2, faults: MemoryLinkFaults = {}): [Link, Link, SessionV2, SessionV2] {
  const [la, lb] = createMemoryLinkPair(faults);
  return [la, lb, a.attach(la), b.attach(lb)];
}

/** Whether `a` and `b` hold the same retained ids in every scope both hold (and hold at least one in common). */
export function convergedV2(a: NodeV2, b: NodeV2): boolean {
  const common = a.engine.scopes().map((s) => s.name).filter((n) => b.engine.scope(n) !== undefined);
  return common.length > 0 && common.every((n) => a.idsIn(n).join() === b.idsIn(n).join());
}
