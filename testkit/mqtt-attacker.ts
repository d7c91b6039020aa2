/**
 * A broker-side attacker for tests of sealed MQTT links (PROTOCOL.md §7): a sniffer subscribed
 * to `#` that records every payload the broker carries, and an injector that publishes whatever
 * it likes on any topic (a broker without ACLs gives every client that much). Plus the pieces
 * the attacker tests share: capturing loggers, protocol-2 nodes (testkit/engines-v2.ts) linked
 * through the broker, and the victim sessions' sealing counters.
 */
import mqtt from 'mqtt';
import { generateIdentity } from '../protocol/keys.js';
import { inboxTopic, presenceTopic } from '../protocol/mqtt-topics.js';
import { isSealed } from '../protocol/seal.js';
import type { Logger } from '../agent/node/log.js';
import type { SessionV2 } from '../agent/sync/session-v2.js';
import { fleetV2, type NodeV2 } from './engines-v2.js';
import { until } from './wait.js';

/** One PUBLISH the sniffer saw. */
export interface Captured {
  topic: string;
  payload: Uint8Array;
  /** The attacker published it itself (so it is not evidence of what the peers send). */
  injected: boolean;
}

/** A raw mqtt.js client on 127.0.0.1:`port`, connected. */
export async function rawClient(port: number, clientId: string): Promise<mqtt.MqttClient> {
  const c = mqtt.connect({ host: '127.0.0.1', port, protocolVersion: 4, reconnectPeriod: 0, clientId });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

/** Sniffer on `#` and injector, each its own client of the same (ACL-less) broker. */
export class Attacker {
  readonly captured: Captured[] = [];
  private readonly mine = new Set<string>();

  private constructor(
    private readonly sniffer: mqtt.MqttClient,
    private readonly injector: mqtt.MqttClient,
    readonly prefix: string,
  ) {
    sniffer.on('message', (topic, payload) => {
      const bytes = new Uint8Array(payload);
      this.captured.push({ topic, payload: bytes, injected: this.mine.has(key(topic, bytes)) });
    });
  }

  /** Connect both clients; the sniffer's subscription is in place when this resolves. */
  static async connect(port: number, tag: string, prefix = 'syncwire'): Promise<Attacker> {
    const sniffer = await rawClient(port, `sniffer-${tag}`);
    await sniffer.subscribeAsync('#', { qos: 1 });
    return new Attacker(sniffer, await rawClient(port, `mallory-${tag}`), prefix);
  }

  /** Index of the next captured message (for "from now on" windows). */
  mark(): number {
    return this.captured.length;
  }

  /** Payloads on the inbox of `to` from `from`, captured in `[since, end)`, the attacker's own left out. */
  between(from: string, to: string, since = 0, end = this.captured.length): Uint8Array[] {
    const topic = inboxTopic(this.prefix, to, from);
    return this.captured.slice(since, end).filter((c) => c.topic === topic && !c.injected).map((c) => c.payload);
  }

  /** Sealed frames `from` sent `to` (since index `since`). */
  sealedBetween(from: string, to: string, since = 0): Uint8Array[] {
    return this.between(from, to, since).filter(isSealed);
  }

  /** Bytes of the payloads `from` sent `to` captured in `[since, end)`. */
  bytesBetween(from: string, to: string, since: number, end: number): number {
    return this.between(from, to, since, end).reduce((n, p) => n + p.length, 0);
  }

  /** Publish `body` on `to`'s inbox as if `from` sent it (QoS 1, like the peers). */
  async inject(to: string, from: string, body: Uint8Array): Promise<void> {
    const topic = inboxTopic(this.prefix, to, from);
    this.mine.add(key(topic, body));
    await this.injector.publishAsync(topic, Buffer.from(body), { qos: 1 });
  }

  /** Publish `text` on `peer`'s presence topic. */
  async presence(peer: string, text: string, retain: boolean): Promise<void> {
    await this.injector.publishAsync(presenceTopic(this.prefix, peer), text, { qos: 1, retain });
  }

  /** Resolves once the sniffer has seen everything the injector published so far. */
  async flushed(): Promise<void> {
    const probe = `${this.prefix}/attacker-probe/${Math.random().toString(36).slice(2)}`;
    await this.injector.publishAsync(probe, 'x', { qos: 1 });
    await until(() => this.captured.some((c) => c.topic === probe), 10_000, 'sniffer catches up');
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.sniffer.endAsync(true), this.injector.endAsync(true)]);
  }
}

function key(topic: string, payload: Uint8Array): string {
  return `${topic} ${Buffer.from(payload).toString('hex')}`;
}

/** One log call. */
export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

/** A logger that keeps every line (and prints nothing). */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object, msg = '') => void lines.push({ level, obj, msg });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/** A node whose log lines are kept, and whose `peer-down` events are counted. */
export interface Watched {
  node: NodeV2;
  lines: LogLine[];
  /** `peer-down` events so far. */
  downs: () => number;
}

/** A v2 gateway and `n - 1` devices ({@link fleetV2}) that trust each other (and `extraTrusted`), each with a capturing logger. */
export async function watchedNodes(n: number, extraTrusted: Uint8Array[] = []): Promise<Watched[]> {
  const logs = Array.from({ length: n }, () => captureLogger());
  const nodes = await fleetV2(n, (i) => ({ logger: logs[i]!.logger }), extraTrusted);
  return nodes.map((node, i) => {
    let downs = 0;
    node.engine.on('peer-down', () => downs++);
    return { node, lines: logs[i]!.lines, downs: () => downs };
  });
}

/** The sealing counters of one session (PROTOCOL.md §7.4, `status --json`). */
export interface SealCounters {
  sealed: boolean;
  sealFailures: number;
  replays: number;
  unsealedDropped: number;
  rehandshakes: number;
  /** Re-handshake inputs dropped (failed Hellos, bad Auths, triggers over their rate). */
  handshakeDropped: number;
  /** Frames dropped unread because too many bytes already waited to be handled (a flood). */
  intakeDropped: number;
  badFrames: number;
  framesOut: number;
}

/** `node`'s authenticated session with `peer` (the handle `attach` returned). @throws when there is none. */
export function sessionOf(node: NodeV2, peer: string): SessionV2 {
  const s = node.sessionWith(peer);
  if (s === undefined) throw new Error(`${node.id} has no session with ${peer}`);
  return s;
}

/** The sealing counters of `node`'s session with `peer`. */
export function sealCounters(node: NodeV2, peer: string): SealCounters {
  const s = sessionOf(node, peer);
  const st = s.stats;
  return {
    sealed: s.sealed,
    sealFailures: st.sealFailures,
    replays: st.replays,
    unsealedDropped: st.unsealedDropped,
    rehandshakes: st.rehandshakes,
    handshakeDropped: st.handshakeDropped,
    intakeDropped: st.intakeDropped,
    badFrames: st.badFrames,
    framesOut: st.framesOut,
  };
}

/** The scopes `a` and `b` both hold and both have open on their link (as `a` sees them), by id. */
export function sharedScopes(a: NodeV2, b: NodeV2): Uint8Array[] {
  const s = a.sessionWith(b.id);
  if (s === undefined) return [];
  const out: Uint8Array[] = [];
  for (const sum of a.engine.scopes()) {
    const h = a.engine.scope(sum.name);
    if (h !== undefined && b.engine.scope(sum.name) !== undefined && s.scoped.loopOf(h.id) !== undefined) out.push(h.id);
  }
  return out;
}

/**
 * Whether `x` holds a push subscription to scope `id` at `y` on their current link: `x`'s side
 * got its `SubscribeAck`, and `y` holds the slot bound to that link.
 */
export function subscribedAt(x: NodeV2, y: NodeV2, id: Uint8Array): boolean {
  const xs = x.sessionWith(y.id);
  const ys = y.sessionWith(x.id);
  if (xs === undefined || ys === undefined) return false;
  return xs.scoped.push.subscriptionOf(id)?.state === 'subscribed' && y.engine.subscribedBy(ys, id);
}

/**
 * Whether the link between `a` and `b` is up and settled: both authenticated, the fleet scope
 * and the device scope open on it, and each end holds its push subscription to every shared
 * scope at the other. (Polls still run every anti-entropy period; nothing here waits them out.)
 */
export function settled(a: NodeV2, b: NodeV2): boolean {
  for (const [x, y] of [
    [a, b],
    [b, a],
  ] as const) {
    const shared = sharedScopes(x, y);
    if (shared.length < 2) return false;
    if (!shared.every((id) => subscribedAt(x, y, id))) return false;
  }
  return true;
}
