/**
 * The running MQTT transport: one mqtt.js client, one virtual {@link MqttLink} per remote peer.
 * Built by `mqtt.ts`, which documents the behaviour; this file holds the state machine.
 */
import type { IPublishPacket, MqttClient } from 'mqtt';
import { inboxFilter, inboxTopic, presenceTopic, senderOf } from '../../protocol/mqtt-topics.js';
import { TransportError } from './errors.js';
import { LinkSource } from './link-source.js';
import { backoffFrom, type OpenedTransport, type ResolvedOptions } from './options.js';
import { MqttLink, type MqttLinkHost } from './mqtt-link.js';

/** Retained presence payloads; `offline` is also the last will. */
export const OFFLINE = Buffer.from('offline');
const ONLINE = Buffer.from('online');
/** The close marker: an empty payload on an inbox topic. */
const EMPTY = Buffer.alloc(0);

/** Who talks to whom under which prefix. */
export interface Topology {
  self: string;
  prefix: string;
  /** The dialed peer; undefined in listen mode. */
  remote: string | undefined;
}

/** The running transport: one client, many virtual links. */
export class MqttTransport extends LinkSource implements OpenedTransport, MqttLinkHost {
  readonly localPort = undefined;
  private readonly links = new Map<string, MqttLink>();
  private closed = false;
  private connectedAt: number | undefined;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private relinkTimer: NodeJS.Timeout | null = null;
  private readonly backoff;
  private readonly relinkBackoff;
  /** Dial mode: the remote announced `offline`; wait for `online` (or a message) before relinking. */
  private remoteOffline = false;
  private linkUpAt = 0;

  constructor(
    readonly url: string,
    private readonly base: string,
    private readonly t: Topology,
    private readonly o: ResolvedOptions,
    private readonly client: MqttClient,
  ) {
    super();
    this.backoff = backoffFrom(o);
    this.relinkBackoff = backoffFrom(o);
    client.on('connect', (connack) => this.onConnect(connack.sessionPresent));
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on('close', () => this.onClose());
    client.on('error', (err) => {
      // Errors while disconnecting (EPIPE on the last writes) are not worth a warning.
      if (!this.closed) this.warn(new TransportError('ConnectFailed', `${url}: ${err.message}`, { cause: err }));
    });
  }

  publish(remote: string, body: Uint8Array, done: () => void): void {
    const payload = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.client.publish(inboxTopic(this.t.prefix, remote, this.t.self), payload, { qos: 1 }, () => done());
  }

  released(link: MqttLink, notifyRemote: boolean): void {
    if (this.links.get(link.remote) === link) this.links.delete(link.remote);
    if (notifyRemote && this.client.connected) {
      this.client.publish(inboxTopic(this.t.prefix, link.remote, this.t.self), EMPTY, { qos: 1 });
    }
    if (link.remote === this.t.remote && !this.closed) {
      if (performance.now() - this.linkUpAt >= this.o.stableAfterMs) this.relinkBackoff.reset();
      this.scheduleRelink();
    }
  }

  /** Close every link (sending close markers), publish `offline`, disconnect; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of [this.reconnectTimer, this.relinkTimer]) if (timer !== null) clearTimeout(timer);
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
    this.o.logger?.debug?.({ url: this.url, sessionPresent }, 'broker connected');
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
      // Retained copies describe the past; only live changes open or close the link.
      if (!packet.retain) this.onRemotePresence(payload.toString());
      return;
    }
    const from = senderOf(this.t.prefix, this.t.self, topic);
    if (from === undefined) return;
    let link = this.links.get(from);
    if (payload.length === 0) {
      link?.end(new TransportError('Closed', `${from} closed the link`));
      return;
    }
    if (link === undefined) {
      if (remote !== undefined && from !== remote) {
        this.o.logger?.debug?.({ url: this.url, from }, 'message from a peer this dialer does not talk to; dropped');
        return;
      }
      if (this.links.size >= this.o.maxLinks) {
        this.warn(new TransportError('TooManyLinks', `${this.url}: ${this.o.maxLinks} links open; dropped a message from ${from}`));
        return;
      }
      link = this.createLink(from);
    }
    link.deliver(payload);
  }

  private onRemotePresence(state: string): void {
    const remote = this.t.remote!;
    this.remoteOffline = state === 'offline';
    if (this.remoteOffline) this.links.get(remote)?.end(new TransportError('Disconnected', `${remote} went offline`));
    else this.openDialLink();
  }

  private onClose(): void {
    const was = this.connectedAt;
    this.connectedAt = undefined;
    if (was !== undefined && performance.now() - was >= this.o.stableAfterMs) this.backoff.reset();
    if (this.relinkTimer !== null) clearTimeout(this.relinkTimer);
    this.relinkTimer = null;
    const err = new TransportError('Disconnected', `${this.url}: broker connection lost`);
    for (const link of [...this.links.values()]) link.end(err);
    if (this.closed || this.reconnectTimer !== null) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closed) this.client.reconnect();
    }, this.backoff.next());
  }

  /** Dial mode: make sure a link to the remote exists while the broker session is up. */
  private openDialLink(): void {
    const remote = this.t.remote;
    if (remote === undefined || this.closed || !this.client.connected || this.remoteOffline || this.links.has(remote)) return;
    this.createLink(remote);
  }

  private scheduleRelink(): void {
    if (this.relinkTimer !== null) return;
    this.relinkTimer = setTimeout(() => {
      this.relinkTimer = null;
      this.openDialLink();
    }, this.relinkBackoff.next());
  }

  private createLink(remote: string): MqttLink {
    if (this.relinkTimer !== null && remote === this.t.remote) clearTimeout(this.relinkTimer);
    if (remote === this.t.remote) {
      this.relinkTimer = null;
      this.remoteOffline = false;
      this.linkUpAt = performance.now();
    }
    const topic = inboxTopic(this.t.prefix, remote, this.t.self);
    const link = new MqttLink(remote, `${this.base}/${remote}`, this.o.maxFrame, topic.length, this.o.highWaterMark, this);
    this.links.set(remote, link);
    this.offer(link);
    return link;
  }

  private warn(err: Error): void {
    this.o.logger?.warn({ err, url: this.url }, err.message);
    this.emit('warn', err);
  }
}
