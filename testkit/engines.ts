/**
 * Engines for tests: on memory stores wired by memory links with fast pacing ({@link makeEngines},
 * {@link connect}, {@link converge}), or linked through real brokers by the real transports
 * ({@link MqttNode}). Protocol 1, kept until the v1 engine goes: new tests use the protocol-2
 * counterparts in testkit/engines-v2.ts (`fleetV2`, `NodeV2`, `connectV2`).
 */
import { Engine, type EngineOptions } from '../agent/sync/engine.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { createMemoryLinkPair, type MemoryLinkFaults } from '../agent/memory-link.js';
import type { Link } from '../agent/link.js';
import { openTransport, type OpenedTransport, type TransportOptions } from '../agent/transport/registry.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import type { PeerSession } from '../agent/sync/peer-session.js';
import type { PeerSnapshot } from '../agent/sync/engine-snapshot.js';
import { sleep } from './wait.js';

/** Fast pacing so property runs converge in well under a second of wall time. */
export const FAST: Partial<EngineOptions> = {
  pollTimeoutMs: 150,
  // Memory links never come back once closed; lossy property runs must not close them.
  deadAfterTimeouts: 0,
  pollTimeoutMsPerByte: 0,
  pollHint: { minMs: 20, maxMs: 80 },
  subscribedPollS: 0.15,
  backoff: { baseMs: 20, capMs: 200, floorMs: 5, jitter: 0.2 },
  pollBucket: { capacity: 1000, perSecond: 1000 },
};

/** `n` engines on memory stores that all trust each other, paced by {@link FAST} unless `extra` says otherwise. */
export function makeEngines(n: number, extra: Partial<EngineOptions> = {}): Engine[] {
  const ids: Identity[] = Array.from({ length: n }, () => generateIdentity());
  const keys = ids.map((i) => i.publicKey);
  return ids.map((identity) => new Engine({ identity, store: new MemoryStore(), trust: { mode: 'list', keys }, ...FAST, ...extra }));
}

/** Link `a` and `b` by a memory link pair: the links, then the two sessions (A's, B's). */
export function connect(a: Engine, b: Engine, faults: MemoryLinkFaults = {}): [Link, Link, PeerSession, PeerSession] {
  const [la, lb] = createMemoryLinkPair(faults);
  return [la, lb, a.attach(la), b.attach(lb)];
}

/** `e`'s authenticated session with `peerId` as its snapshot shows it, if there is one. */
export function peerOf(e: Engine, peerId: string): PeerSnapshot | undefined {
  return e.snapshot().peers.find((p) => p.authenticated && p.id === peerId);
}

/** Sorted hex ids of every command in a store. */
export function graphOf(e: Engine): string[] {
  const out: string[] = [];
  for (let h = 0; h < e.store.size; h++) out.push(toHex(e.store.idOf(h)));
  return out.sort();
}

/** Wait until every engine holds the same graph, or the deadline passes. Returns whether they converged. */
export async function converge(engines: Engine[], timeoutMs = 8000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sizes = engines.map((e) => e.store.size);
    if (sizes.every((s) => s === sizes[0])) {
      const g = graphOf(engines[0]!).join();
      if (engines.every((e) => graphOf(e).join() === g)) return true;
    }
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}

/** An engine with the transports it opened; `up` holds the peers it has an authenticated link with. */
export class MqttNode {
  readonly engine: Engine;
  readonly up = new Set<string>();
  readonly transports: OpenedTransport[] = [];
  readonly warnings: Error[] = [];
  /** Every session `attach` returned, oldest first. */
  readonly sessions: PeerSession[] = [];

  constructor(
    readonly identity: Identity,
    trusted: Uint8Array[],
    opts: Partial<EngineOptions> = {},
  ) {
    this.engine = new Engine({ identity, store: new MemoryStore(), trust: { mode: 'list', keys: trusted }, ...opts });
    this.engine.on('peer-up', (p) => this.up.add(p));
    this.engine.on('peer-down', (p) => this.up.delete(p));
  }

  get id(): string {
    return this.identity.peerId;
  }

  async open(url: string, opts: TransportOptions = {}): Promise<OpenedTransport> {
    const t = await openTransport(url, { selfId: this.id, ...opts });
    this.transports.push(t);
    t.on('warn', (e) => this.warnings.push(e));
    t.on('link', (l) => void this.sessions.push(this.engine.attach(l)));
    return t;
  }

  /** The newest authenticated session with `peerId` whose link is open, if any. */
  sessionWith(peerId: string): PeerSession | undefined {
    for (let i = this.sessions.length - 1; i >= 0; i--) {
      const s = this.sessions[i]!;
      if (s.peerId === peerId && s.authenticated && s.link.open) return s;
    }
    return undefined;
  }

  /** Commit a small payload; returns its command id as hex. */
  async commit(text: string): Promise<string> {
    return Buffer.from(await this.engine.commit(new TextEncoder().encode(text))).toString('hex');
  }

  /** Whether the store holds the command `idHex`. */
  has(idHex: string): boolean {
    for (let h = 0; h < this.engine.store.size; h++) if (Buffer.from(this.engine.store.idOf(h)).toString('hex') === idHex) return true;
    return false;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.transports.splice(0).map((t) => t.close()));
    await this.engine.close();
  }
}

/** `n` identities that all trust each other. */
export function nodes(n: number, opts: Partial<EngineOptions> = {}): MqttNode[] {
  const ids = Array.from({ length: n }, () => generateIdentity());
  return ids.map((i) => new MqttNode(i, ids.map((x) => x.publicKey), opts));
}
