/**
 * One virtual {@link Link} to one remote peer through an MQTT broker. Many of them share one
 * client connection; the transport (`mqtt.ts`) owns the connection and routes messages here.
 */
import type { Link } from '../link.js';
import { MalformedError, TooLargeError } from '../../protocol/errors.js';
import { BaseLink } from './base-link.js';

/** What a link needs from its transport. */
export interface MqttLinkHost {
  /** Publish `body` to `remote`'s inbox at QoS 1; `done` runs when the publish completes or fails. */
  publish(remote: string, body: Uint8Array, done: () => void): void;
  /** The link closed; `notifyRemote` is true when it was closed locally (send the close marker). */
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

  constructor(
    /** Peer id at the other end. */
    readonly remote: string,
    readonly description: string,
    readonly maxFrame: number,
    topicLength: number,
    private readonly highWaterMark: number,
    private readonly host: MqttLinkHost,
  ) {
    super();
    this.overhead = topicLength + 7;
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

  /** Close locally and tell the remote (empty message on its inbox); idempotent. */
  async close(): Promise<void> {
    this.end(undefined, true);
  }

  /** Hand a received frame to the engine. */
  deliver(body: Uint8Array): void {
    if (this.isOpen) this.deliverFrame(body);
  }

  /** Close because of something outside (remote's marker, remote offline, broker lost). */
  end(err?: Error, notifyRemote = false): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.host.released(this, notifyRemote);
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
