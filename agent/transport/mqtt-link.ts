/**
 * One virtual {@link Link} to one remote peer through an MQTT broker. Many of them share one
 * client connection; the transport (`mqtt.ts`) owns the connection and routes messages here.
 */
import type { Link } from '../link.js';
import { MalformedError, TooLargeError } from '../../protocol/errors.js';
import type { SealPolicy } from '../../protocol/seal.js';
import { BaseLink } from './base-link.js';
import { TransportError } from './errors.js';

/** Shortest interval between two `rehandshake` events of one link (a flood of `online` costs one Hello a second). */
export const REHANDSHAKE_HINT_MS = 1000;

/** What a virtual link is. */
export interface MqttLinkOptions {
  /** Peer id at the other end. */
  remote: string;
  /** Human-readable description (broker URL and peer id). */
  description: string;
  /** Largest frame body. */
  maxFrame: number;
  /** Length of the inbox topic this link publishes on (counted against the high-water mark). */
  topicLength: number;
  /** Bytes of unacknowledged publishes at which `send` returns false. */
  highWaterMark: number;
  /** See {@link Link.sealPolicy}. */
  sealPolicy: SealPolicy;
}

/** What a link needs from its transport. */
export interface MqttLinkHost {
  /** Publish `body` to `remote`'s inbox at QoS 1; `done` runs when the publish completes or fails. */
  publish(remote: string, body: Uint8Array, done: () => void): void;
  /** The link closed; `notifyRemote` is true when the empty close marker should go out (closed locally, not sealed). */
  released(link: MqttLink, notifyRemote: boolean): void;
}

/**
 * A virtual link. Backpressure counts the bytes of publishes whose completion callback (the
 * PUBACK, for QoS 1) has not run yet: `send` returns false at or above the high-water mark and
 * `drain` follows when acknowledgements bring it back below. Publishes never wait on the
 * socket's `drain` event in bulk, so mqtt.js never piles up listeners there. A PUBACK only
 * means the broker took the message, not that the peer got it: nothing else relies on it.
 */
export class MqttLink extends BaseLink implements Link {
  private inflight = 0;
  private needDrain = false;
  private isOpen = true;
  /** Per-publish overhead counted with the body: topic, its length field, packet id, fixed header. */
  private readonly overhead: number;

  /** Peer id at the other end. */
  readonly remote: string;
  readonly description: string;
  readonly maxFrame: number;
  readonly sealPolicy: SealPolicy;
  /** Empty payloads (unsealed close markers) ignored because the link is sealed. */
  ignoredCloseMarkers = 0;
  private readonly highWaterMark: number;
  /** When the last `rehandshake` was emitted (performance.now()). */
  private hintedAt = -Infinity;

  constructor(
    opts: MqttLinkOptions,
    private readonly host: MqttLinkHost,
  ) {
    super();
    this.remote = opts.remote;
    this.description = opts.description;
    this.maxFrame = opts.maxFrame;
    this.sealPolicy = opts.sealPolicy;
    this.highWaterMark = opts.highWaterMark;
    this.overhead = opts.topicLength + 7;
  }

  /** False once closed (locally, by the remote, or because the broker connection was lost). */
  get open(): boolean {
    return this.isOpen;
  }

  /**
   * Publish one frame body; the link owns `body` until the publish completes. Ignored after close.
   * @throws TooLargeError above {@link MqttLink.maxFrame}; MalformedError for an empty body (an
   * empty payload is the close marker on the wire).
   */
  send(body: Uint8Array): boolean {
    if (!this.isOpen) return true;
    if (body.length > this.maxFrame) throw new TooLargeError(`frame body of ${body.length} bytes exceeds ${this.maxFrame}`);
    if (body.length === 0) throw new MalformedError('empty frame body');
    const cost = body.length + this.overhead;
    this.inflight += cost;
    this.host.publish(this.remote, body, () => this.completed(cost));
    if (this.inflight >= this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Close locally and tell the remote with the empty close marker on its inbox, unless the link
   * is sealed (the session sent its sealed close marker before calling this); idempotent.
   */
  async close(): Promise<void> {
    this.end(undefined, true);
  }

  /**
   * An empty payload arrived from the remote. Before {@link markSealed} it is the close marker
   * and ends the link; after, it is only an unsealed frame body that anyone able to publish on the
   * inbox topic can forge: counted in {@link ignoredCloseMarkers} and handed to the engine as an
   * empty `frame`, which drops and counts it like any unsealed frame (PROTOCOL.md §7.4 rule 4).
   */
  remoteClosed(): void {
    if (!this.isOpen) return;
    if (!this.sealed) {
      this.end(new TransportError('Closed', `${this.remote} closed the link`));
      return;
    }
    this.ignoredCloseMarkers++;
    this.emit('frame', new Uint8Array(0));
  }

  /**
   * The remote announced `online` live while this link is up and sealed: emit `rehandshake`
   * (at most once per {@link REHANDSHAKE_HINT_MS}) so the session re-handshakes on this link.
   * @returns whether the event was emitted.
   */
  hintRehandshake(now = performance.now()): boolean {
    if (!this.isOpen || now - this.hintedAt < REHANDSHAKE_HINT_MS) return false;
    this.hintedAt = now;
    this.emit('rehandshake');
    return true;
  }

  /** Hand a received frame to the engine. */
  deliver(body: Uint8Array): void {
    if (this.isOpen) this.deliverFrame(body);
  }

  /**
   * Close because of something outside (remote's marker, broker lost, eviction). `notifyRemote`
   * asks for the empty close marker, never sent on a sealed link.
   */
  end(err?: Error, notifyRemote = false): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.host.released(this, notifyRemote && !this.sealed);
    this.dropHeld();
    this.emit('close', err);
  }

  private completed(cost: number): void {
    this.inflight -= cost;
    if (this.needDrain && this.isOpen && this.inflight < this.highWaterMark) {
      this.needDrain = false;
      this.emit('drain');
    }
  }
}
