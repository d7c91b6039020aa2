/** Test helpers: real engines linked through real MQTT brokers by the real transports. */
import { Engine, type EngineOptions } from '../../agent/sync/engine.js';
import { MemoryStore } from '../../agent/store/memory-store.js';
import { openTransport, type OpenedTransport, type TransportOptions } from '../../agent/transport/registry.js';
import { generateIdentity, type Identity } from '../../protocol/keys.js';

/** An engine with the transports it opened; `up` holds the peers it has an authenticated link with. */
export class MqttNode {
  readonly engine: Engine;
  readonly up = new Set<string>();
  readonly transports: OpenedTransport[] = [];
  readonly warnings: Error[] = [];

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
    t.on('link', (l) => this.engine.attach(l));
    return t;
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

/** Poll `cond` every 20 ms until true; returns the elapsed ms, or throws after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - t0;
}
