/**
 * The session layer of the v2 device on its one link: the {@link DeviceLinkV2}, the
 * {@link SessionV2} every body passes, and the timer that repeats `Hello` (same bytes, doubling
 * from `retryBaseMs` up to 30 s) until the session is up. It hands the device the session going
 * up or down and the messages to act on (an `Error` in any state, anything else only once up).
 * A version refusal is sent and the link closed (§3.1). Timers come from the injected scheduler.
 */
import type { ArqScheduler } from '../../protocol/arq/driver.js';
import { TooLargeError } from '../../protocol/errors.js';
import { errorMessage } from '../../protocol/error-message.js';
import type { MessageV2 } from '../../protocol/messages-v2.js';
import type { SessionV2 } from './session-v2.js';
import type { DeviceLinkV2, DeviceV2Stats } from './types-v2.js';

const MAX_HELLO_RETRY_MS = 30_000;

/** What the connection tells its device. */
export interface ConnectionHostV2 {
  up(peerKey: Uint8Array, peerCaps: number): void;
  down(): void;
  message(msg: MessageV2): void;
  badFrame(err: Error): void;
}

/** One device's session layer. */
export class ConnectionV2 {
  private link: DeviceLinkV2 | null = null;
  private cancelHello: (() => void) | null = null;
  private retryMs: number;

  constructor(
    readonly session: SessionV2,
    private readonly maxFrame: number,
    private readonly retryBaseMs: number,
    private readonly scheduler: ArqScheduler,
    private readonly stats: DeviceV2Stats,
    private readonly host: ConnectionHostV2,
  ) {
    this.retryMs = retryBaseMs;
  }

  /** Whether a link is connected. */
  get connected(): boolean {
    return this.link !== null;
  }

  /** The link opened: our `Hello` out at once, repeated until up. */
  connect(link: DeviceLinkV2): void {
    this.disconnect();
    this.link = link;
    this.retryMs = this.retryBaseMs;
    this.sendBody(this.session.open());
    this.armHello();
  }

  /** The link closed (a sealed session sends its close marker first). Idempotent. */
  disconnect(): void {
    const wasUp = this.session.handshake.state === 'up';
    const marker = this.session.closeMarker();
    if (marker !== null) this.sendBody(marker);
    this.link = null;
    this.session.close();
    this.clearHello();
    if (wasUp) this.host.down();
  }

  /** End the link from the device's side: tell the carrier, then forget the session. */
  close(): void {
    const link = this.link;
    this.disconnect();
    link?.close?.();
  }

  /** One received frame body. Never throws. */
  receive(body: Uint8Array): void {
    if (body.length > this.maxFrame) {
      this.host.badFrame(new TooLargeError(`frame of ${body.length} bytes exceeds ${this.maxFrame}`));
      return;
    }
    this.stats.framesIn++;
    try {
      this.onBody(body);
    } catch (err) {
      // A bug must not take the device down with it; the frame is lost, the link stays.
      this.host.badFrame(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Send one message (sealed on a sealed session); dropped when it does not fit. */
  send(msg: MessageV2): void {
    if (this.link === null) return;
    const body = this.session.encode(msg);
    if (body !== null) this.sendBody(body);
  }

  /** Send an already encoded message body (a bare push), sealed on a sealed session; dropped when it does not fit. */
  sendEncoded(msgBody: Uint8Array): void {
    if (this.link === null) return;
    const body = this.session.wrap(msgBody);
    if (body !== null) this.sendBody(body);
  }

  private onBody(body: Uint8Array): void {
    const input = this.session.receive(body);
    switch (input.kind) {
      case 'dropped':
        return;
      case 'malformed':
        this.host.badFrame(input.error);
        if (input.answer) this.send(errorMessage('Malformed', input.error.message.slice(0, 200)));
        return;
      case 'closed':
        this.host.down();
        this.retryMs = this.retryBaseMs;
        this.armHello();
        return;
      case 'handshake': {
        const step = input.step;
        if (input.down) this.host.down();
        for (const b of step.send) this.sendBody(b);
        if (step.close) return this.close();
        const s = this.session.handshake.state;
        if (step.up) {
          this.clearHello();
          this.retryMs = this.retryBaseMs;
          this.host.up(this.session.handshake.peerKey!, this.session.handshake.peerCaps); // set once up
        } else if (s === 'refused') this.clearHello();
        else if (s === 'hello-sent') this.armHello();
        return;
      }
      case 'message':
        if (input.msg.type === 'Error' || this.session.handshake.state === 'up') this.host.message(input.msg);
        else this.send(errorMessage('Unauthorized', 'authenticate first'));
    }
  }

  private sendBody(body: Uint8Array): void {
    if (this.link === null) return;
    this.stats.framesOut++;
    try {
      this.link.send(body);
    } catch {
      // The carrier failed under us; its owner calls disconnect().
    }
  }

  private armHello(): void {
    this.clearHello();
    if (this.link === null) return;
    this.cancelHello = this.scheduler.setTimer(() => {
      this.cancelHello = null;
      const s = this.session.handshake.state;
      if (this.link === null || s === 'up' || s === 'refused') return;
      this.retryMs = Math.min(this.retryMs * 2, MAX_HELLO_RETRY_MS);
      this.sendBody(this.session.handshake.hello());
      this.armHello();
    }, Math.max(1, Math.round(this.retryMs)));
  }

  private clearHello(): void {
    this.cancelHello?.();
    this.cancelHello = null;
  }
}
