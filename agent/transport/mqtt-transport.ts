/**
 * The running MQTT transport: one mqtt.js client, one virtual {@link MqttLink} per remote peer.
 * Built by `mqtt.ts`, which documents the URLs; this file holds the state machine.
 *
 * - Presence is a hint, never a gate (rules in `mqtt-presence.ts`). A dialer keeps a link to
 *   its remote whenever it is connected to the broker, whatever the remote's presence says; the
 *   engine sends `Hello` on it with backoff until the peer authenticates (and closes it after
 *   60 s; the dialer relinks after a backoff). `online` hurries things up: a link that waited
 *   ≥ 1 s without authenticating is replaced at once; a live `online` replaces an authenticated
 *   unsealed link too, but on a sealed one it only makes the link emit `rehandshake` (at most
 *   once a second), so a forged `online` cannot cut it. `offline` never closes a link.
 * - Sealed links (`markSealed`): an empty payload on the inbox no longer ends the link (it is
 *   counted and emitted as `frame-error`), and closing one publishes no empty marker: the
 *   session's sealed close marker is the only one that counts.
 * - A listener admits new senders through `mqtt-admission.ts` (small separate pool for
 *   unauthenticated links, bounded creation rate).
 * - Broker-connected for `mqttLinklessWarnMs` without an authenticated link: one warning.
 * - Broker connection failures: one warn line per streak (`failure-log.ts`); reconnects
 *   rotate through the broker nodes, the next node right after a failed attempt, with the
 *   full-jitter backoff (capped at `mqttReconnectMaxMs`) after a lost connection and after each
 *   full round of failed nodes.
 */
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { SealPolicy } from '../../protocol/seal.js';
import { inboxFilter, inboxTopic, presenceTopic, senderOf } from '../../protocol/mqtt-topics.js';
import { TransportError } from './errors.js';
import { FailureLog } from './failure-log.js';
import { LinkSource } from './link-source.js';
import { LinklessWarning } from './linkless-warning.js';
import { Admission } from './mqtt-admission.js';
import { backoffFrom, type OpenedTransport, type ResolvedOptions } from './options.js';
import { MqttLink, type MqttLinkHost } from './mqtt-link.js';
import { OFFLINE, ONLINE, onlineAction } from './mqtt-presence.js';

/** The unsealed close marker: an empty payload on an inbox topic. */
const EMPTY = Buffer.alloc(0);

/** The nodes of one (possibly clustered) broker, as `mqtt.ts` built them. */
export interface BrokerNodes {
  /** How many nodes the URL names (1 for a plain URL). */
  count: number;
  /** The node the client dials first (`host:port`). */
  first: string;
  /** Point the client at the next node before a reconnect; returns its name. */
  rotate(): string;
}

/** Who talks to whom under which prefix. */
export interface Topology {
  self: string;
  prefix: string;
  /** The dialed peer; undefined in listen mode. */
  remote: string | undefined;
  /** Sealing policy of every link (URL `seal=`). */
  seal: SealPolicy;
}

/** The running transport: one client, many virtual links. */
export class MqttTransport extends LinkSource implements OpenedTransport, MqttLinkHost {
  readonly localPort = undefined;
  private readonly links = new Map<string, MqttLink>();
  private readonly admission: Admission<MqttLink>;
  private readonly failures: FailureLog;
  private closed = false;
  private connectedAt: number | undefined;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private relinkTimer: NodeJS.Timeout | null = null;
  /** Dial mode: no relink before this `performance.now()` (a link that ended in a version refusal asked for a hold, `Link.holdRedial`). */
  private relinkHoldUntil = 0;
  private readonly linkless: LinklessWarning;
  private readonly backoff;
  /** The delay before trying the next node after a failed attempt: uniform in `[0, reconnectBaseMs]`. */
  private readonly hop;
  private readonly relinkBackoff;
  /** Links whose peer authenticated and that count against `maxLinks`. */
  private readonly upLinks = new Set<MqttLink>();
  private linkUpAt = 0;
  /** The broker node of the current or next connection attempt. */
  private node: string;
  /** Connection attempts failed in a row (none since the last CONNACK). */
  private failedAttempts = 0;
  /** The current attempt already reported its failure (an `error` event before `close`). */
  private attemptFailed = false;

  /** @param nodes the broker's nodes; default one node, `base`. */
  constructor(
    readonly url: string,
    private readonly base: string,
    private readonly t: Topology,
    private readonly o: ResolvedOptions,
    private readonly client: MqttClient,
    private readonly nodes: BrokerNodes = { count: 1, first: base, rotate: () => base },
  ) {
    super();
    this.node = nodes.first;
    this.backoff = backoffFrom(o, o.mqttReconnectMaxMs);
    this.hop = backoffFrom(o, o.reconnectBaseMs);
    this.relinkBackoff = backoffFrom(o);
    this.admission = new Admission(o.mqttMaxPendingLinks, o.mqttPendingLinksPerS, url, o.logger);
    this.failures = new FailureLog(url, o.logger);
    const who = t.remote === undefined ? 'no peer has linked' : `no link up with ${t.remote} (is it running and connected to this broker?)`;
    this.linkless = new LinklessWarning(url, o.mqttLinklessWarnMs, who, o.logger, (err) => this.emit('warn', err));
    client.on('connect', (connack) => this.onConnect(connack.sessionPresent));
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on('close', () => this.onClose());
    client.on('error', (err) => {
      // Errors while disconnecting (EPIPE on the last writes) are not worth a warning.
      if (this.closed) return;
      if (this.connectedAt === undefined) this.attemptFailed = true;
      this.warn(new TransportError('ConnectFailed', `${url}: ${err.message}`, { cause: err }));
    });
  }

  publish(remote: string, body: Uint8Array, done: () => void): void {
    const payload = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.client.publish(inboxTopic(this.t.prefix, remote, this.t.self), payload, { qos: 1 }, () => done());
  }

  released(link: MqttLink, notifyRemote: boolean): void {
    if (this.links.get(link.remote) === link) this.links.delete(link.remote);
    if (this.admission.pending.get(link.remote) === link) this.admission.pending.delete(link.remote);
    if (this.upLinks.delete(link) && this.upLinks.size === 0) this.armLinklessWarning();
    if (notifyRemote && this.client.connected) {
      this.client.publish(inboxTopic(this.t.prefix, link.remote, this.t.self), EMPTY, { qos: 1 });
    }
    if (link.remote === this.t.remote && !this.closed) {
      if (link.redialHoldMs > 0) this.relinkHoldUntil = Math.max(this.relinkHoldUntil, performance.now() + link.redialHoldMs);
      if (performance.now() - this.linkUpAt >= this.o.stableAfterMs) this.relinkBackoff.reset();
      this.scheduleRelink();
    }
  }

  /** Close every link (close markers on unsealed ones), publish `offline`, disconnect; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of [this.reconnectTimer, this.relinkTimer]) if (timer !== null) clearTimeout(timer);
    this.linkless.disarm();
    for (const link of [...this.links.values()]) link.end(undefined, true);
    if (this.client.connected) {
      this.client.publish(presenceTopic(this.t.prefix, this.t.self), OFFLINE, { qos: 1, retain: true });
    }
    await new Promise<void>((resolve) => {
      // A graceful end waits for in-flight acks; a dead broker must not hold us up.
      const force = setTimeout(() => this.client.end(true, {}, () => resolve()), 2000);
      this.client.end(!this.client.connected, {}, () => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private onConnect(sessionPresent: boolean): void {
    this.connectedAt = performance.now();
    this.failedAttempts = 0;
    this.failures.succeeded();
    this.o.logger?.debug({ url: this.url, node: this.node, sessionPresent }, 'broker connected');
    this.armLinklessWarning();
    this.client.publish(presenceTopic(this.t.prefix, this.t.self), ONLINE, { qos: 1, retain: true });
    const subs: Record<string, { qos: 1 }> = { [inboxFilter(this.t.prefix, this.t.self)]: { qos: 1 } };
    if (this.t.remote !== undefined) subs[presenceTopic(this.t.prefix, this.t.remote)] = { qos: 1 };
    // A present session already holds our subscriptions: queued messages may arrive right after
    // CONNACK, so the link must exist now. A new session can receive only after the SUBACK.
    this.client.subscribe(subs, (err) => {
      if (err) this.warn(new TransportError('ConnectFailed', `${this.url}: subscribe failed: ${err.message}`, { cause: err }));
      else if (!sessionPresent) this.openDialLink();
    });
    if (sessionPresent) this.openDialLink();
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const remote = this.t.remote;
    if (remote !== undefined && topic === presenceTopic(this.t.prefix, remote)) {
      // Presence only hurries a relink along; `offline` never closes a link.
      if (payload.toString() === 'online') this.kickDialLink(!packet.retain);
      return;
    }
    const from = senderOf(this.t.prefix, this.t.self, topic);
    if (from === undefined) return;
    let link = this.links.get(from);
    if (payload.length === 0) {
      link?.remoteClosed();
      return;
    }
    if (link === undefined) {
      if (remote !== undefined) {
        this.o.logger?.debug({ url: this.url, from }, 'message from a peer this dialer does not talk to; dropped');
        return;
      }
      const made = this.admit(from);
      if (made === undefined) return;
      link = made;
    }
    link.deliver(payload);
  }

  /** Listen mode: a link for a new sender, or undefined when admission refused it. */
  private admit(from: string): MqttLink | undefined {
    if (this.upLinks.size >= this.o.maxLinks) {
      this.admission.refuse('full');
      this.emit('warn', new TransportError('TooManyLinks', `${this.url}: ${this.o.maxLinks} links open; dropped a message from ${from}`));
      return undefined;
    }
    const verdict = this.admission.admit(from);
    if (typeof verdict === 'string') return undefined;
    verdict.evict?.end(new TransportError('TooManyLinks', `${this.url}: evicted from the full pool of unauthenticated links`));
    const link = this.createLink(from);
    this.admission.pending.set(from, link);
    return link;
  }

  /** Dial mode: the remote announced `online` (`live` unless retained); see `mqtt-presence.ts`. */
  private kickDialLink(live: boolean): void {
    const link = this.links.get(this.t.remote!);
    const view = link === undefined ? undefined : { authenticated: this.upLinks.has(link), sealed: link.sealed };
    const action = onlineAction(view, live, performance.now() - this.linkUpAt);
    if (action === 'ignore') return;
    if (action === 'rehandshake') {
      link!.hintRehandshake();
      return;
    }
    this.relinkBackoff.reset();
    if (link !== undefined) link.end(new TransportError('Disconnected', `${this.t.remote} came online again; relinking`));
    if (this.relinkTimer !== null) clearTimeout(this.relinkTimer);
    this.relinkTimer = null;
    this.openDialLink();
  }

  private onClose(): void {
    const was = this.connectedAt;
    this.connectedAt = undefined;
    this.linkless.disarm();
    if (was !== undefined && performance.now() - was >= this.o.stableAfterMs) this.backoff.reset();
    if (this.relinkTimer !== null) clearTimeout(this.relinkTimer);
    this.relinkTimer = null;
    const err = new TransportError('Disconnected', `${this.url}: broker connection lost`);
    if (was !== undefined && !this.closed) this.warn(err);
    if (was === undefined && !this.closed) {
      this.failedAttempts++;
      // A node that closes the connection before CONNACK (NATS while JetStream elects leaders)
      // raises no `error`: count it as a failed attempt all the same.
      if (!this.attemptFailed) this.warn(new TransportError('ConnectFailed', `${this.url}: ${this.node} closed the connection before accepting it`));
    }
    this.attemptFailed = false;
    for (const link of [...this.links.values()]) link.end(err);
    if (this.closed || this.reconnectTimer !== null) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.closed) return;
      this.node = this.nodes.rotate();
      this.o.logger?.debug({ url: this.url, node: this.node }, 'reconnecting to the broker');
      this.client.reconnect();
    }, this.reconnectDelay());
  }

  /**
   * After a failed attempt, the next node of a cluster is tried after a short jittered delay
   * (≤ `reconnectBaseMs`): failover must not wait out a backoff built up against a dead node.
   * The backoff applies to a lost connection and after every full round of failed nodes.
   */
  private reconnectDelay(): number {
    if (this.failedAttempts > 0 && this.failedAttempts % this.nodes.count !== 0) {
      return this.hop.next();
    }
    return this.backoff.next();
  }

  /** Dial mode: make sure a link to the remote exists while the broker session is up. */
  private openDialLink(): void {
    const remote = this.t.remote;
    if (remote === undefined || this.closed || !this.client.connected || this.links.has(remote)) return;
    // After a version refusal (presence `online`, a broker reconnect or the relink timer alike): the hold stands.
    if (performance.now() < this.relinkHoldUntil) return this.scheduleRelink();
    this.createLink(remote);
  }

  private scheduleRelink(): void {
    if (this.relinkTimer !== null) return;
    this.relinkTimer = setTimeout(() => {
      this.relinkTimer = null;
      this.openDialLink();
    }, Math.max(this.relinkBackoff.next(), this.relinkHoldUntil - performance.now()));
  }

  private createLink(remote: string): MqttLink {
    if (remote === this.t.remote) {
      if (this.relinkTimer !== null) clearTimeout(this.relinkTimer);
      this.relinkTimer = null;
      this.linkUpAt = performance.now();
    }
    const topic = inboxTopic(this.t.prefix, remote, this.t.self);
    const link = new MqttLink({
      remote, description: `${this.base}/${remote}`, maxFrame: this.o.maxFrame,
      topicLength: topic.length, highWaterMark: this.o.highWaterMark, sealPolicy: this.t.seal,
    }, this);
    link.once('authenticated', () => this.onAuthenticated(link));
    this.links.set(remote, link);
    this.offer(link);
    return link;
  }

  private onAuthenticated(link: MqttLink): void {
    if (!link.open) return;
    if (this.t.remote === undefined) {
      this.admission.authenticated(link.remote);
      if (this.upLinks.size >= this.o.maxLinks) {
        link.end(new TransportError('TooManyLinks', `${this.url}: ${this.o.maxLinks} authenticated links open`), true);
        return;
      }
    }
    this.upLinks.add(link);
    this.linkless.disarm();
  }

  /** While broker-connected with no authenticated link, warn once after `mqttLinklessWarnMs`. */
  private armLinklessWarning(): void {
    if (!this.closed && this.connectedAt !== undefined && this.upLinks.size === 0) this.linkless.arm();
  }

  private warn(err: Error): void {
    this.failures.failed(err);
    this.emit('warn', err);
  }
}
