/**
 * One full agent of the demo: an engine over its own store, plus the transports it opened (each
 * `link` attached to the engine). It also remembers, per link, whether the last frame carrying
 * commands was a push or a poll answer, so the demo can say which one delivered them.
 */
import type { Identity } from '../../protocol/keys.js';
import type { Link } from '../link.js';
import type { CommandStore } from '../store/command-store.js';
import { Engine, type EngineOptions, type Logger } from '../sync/engine.js';
import type { OpenedTransport, TransportOptions } from '../transport/registry.js';
import { pollResponseHeader } from './progress.js';

/** How commands reached an engine over a link. */
export type Delivery = 'pushed' | 'polled';

/** Which delivery a frame body is, from its first bytes; null for frames without commands. */
export function deliveryOf(body: Uint8Array): Delivery | null {
  if (body[0] === 0x84 && body[1] === 0x08) return 'pushed'; // [Push, remaining, exhausted, commands]
  if (body[0] === 0x85 && body[1] !== undefined && body[1] >> 5 === 4) return 'pushed'; // bare command
  if (body[0] === 0x87 && body[1] === 0x04) return 'polled'; // [PollResponse, ...]
  return null;
}

/** A named engine with its transports. */
export class DemoNode {
  readonly engine: Engine;
  readonly transports: OpenedTransport[] = [];
  private readonly lastDelivery = new WeakMap<Link, Delivery>();
  private readonly lastHint = new WeakMap<Link, number>();

  constructor(
    readonly name: string,
    readonly identity: Identity,
    readonly store: CommandStore,
    opts: Omit<EngineOptions, 'identity' | 'store'>,
    private readonly onWarn: (name: string, err: Error) => void,
  ) {
    this.engine = new Engine({ ...opts, identity, store });
  }

  get peerId(): string {
    return this.identity.peerId;
  }

  /** Open a transport and attach every link it yields. */
  async addLink(url: string, opts: TransportOptions = {}, logger?: Logger): Promise<OpenedTransport> {
    const { openTransport } = await import('../transport/registry.js');
    const t = await openTransport(url, { selfId: this.peerId, ...(logger ? { logger } : {}), ...opts });
    this.transports.push(t);
    t.on('warn', (err) => this.onWarn(this.name, err));
    t.on('link', (link) => {
      link.on('frame', (body) => {
        const d = deliveryOf(body);
        if (d !== null) this.lastDelivery.set(link, d);
        if (d === 'polled') {
          const h = pollResponseHeader(body);
          if (h !== null) this.lastHint.set(link, h.nextPollMs);
        }
      });
      this.engine.attach(link);
    });
    return t;
  }

  /** How the last commands from `peerId` arrived (a guess when pushes and polls interleave). */
  deliveryFrom(peerId: string): Delivery | null {
    const s = this.engine.sessions.get(peerId);
    return s === undefined ? null : (this.lastDelivery.get(s.link) ?? null);
  }

  /** The `next_poll_ms` pacing hint `peerId` sent with its last poll answer. */
  pollHintFrom(peerId: string): number | undefined {
    const s = this.engine.sessions.get(peerId);
    return s === undefined ? undefined : this.lastHint.get(s.link);
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
