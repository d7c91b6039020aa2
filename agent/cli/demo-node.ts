/**
 * One full agent of the demo: an engine over its own store, plus the transports it opened (each
 * `link` attached to the engine), and the pacing hint each peer gave with its last poll answer.
 */
import type { Identity } from '../../protocol/keys.js';
import type { CommandStore } from '../store/command-store.js';
import { attachTransport } from '../node/attach-transport.js';
import type { Logger } from '../node/log.js';
import { Engine, type EngineOptions } from '../sync/engine.js';
import type { OpenedTransport, TransportOptions } from '../transport/registry.js';

/** A named engine with its transports. */
export class DemoNode {
  readonly engine: Engine;
  readonly transports: OpenedTransport[] = [];
  private readonly lastHint = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly identity: Identity,
    readonly store: CommandStore,
    opts: Omit<EngineOptions, 'identity' | 'store'>,
    private readonly onWarn: (name: string, err: Error) => void,
  ) {
    this.engine = new Engine({ ...opts, identity, store });
    this.engine.on('poll-answer', (peer, a) => this.lastHint.set(peer, a.nextPollMs));
  }

  get peerId(): string {
    return this.identity.peerId;
  }

  /** Open a transport and attach every link it yields. */
  async addLink(url: string, opts: TransportOptions = {}, logger?: Logger): Promise<OpenedTransport> {
    const t = await attachTransport(url, this.engine, { ...(logger ? { logger } : {}), ...opts, onWarn: (err) => this.onWarn(this.name, err) });
    this.transports.push(t.transport);
    return t.transport;
  }

  /** The `next_poll_ms` pacing hint `peerId` sent with its last poll answer. */
  pollHintFrom(peerId: string): number | undefined {
    return this.lastHint.get(peerId);
  }

  /** Sorted hex ids of the heads. */
  headSet(): string[] {
    return this.store
      .heads()
      .map((h) => Buffer.from(this.store.idOf(h)).toString('hex'))
      .sort();
  }

  /** Close transports, then the engine, then the store. */
  async close(): Promise<void> {
    await Promise.allSettled(this.transports.map((t) => t.close()));
    await this.engine.close();
    await this.store.close();
  }
}
