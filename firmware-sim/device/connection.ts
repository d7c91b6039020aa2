/**
 * The session layer of the simulated device on one link: the {@link DeviceLink} it sends
 * through, the {@link DeviceSession} (handshake + sealing) every body passes, and the one timer
 * that repeats `Hello` until the session is up. It hands the device only what concerns it: the
 * session going up or down, and the messages to act on — an `Error` in any state, anything else
 * only once up (before that the peer gets `Error{Unauthorized}`, PROTOCOL.md §7).
 *
 * `Hello` is repeated with the same bytes (the first may have hit a closed port) after
 * `handshakeRetryMs`, doubling up to 30 s, with +0–25 % jitter; never while paused, up or
 * refused. The timer is unref'd: a device never keeps the process alive by itself.
 */
import { TooLargeError, type Message } from '../../protocol/index.js';
import { errorMessage } from '../../protocol/error-message.js';
import type { DeviceLink } from '../wiring/device-link.js';
import type { HandshakeState, HandshakeStep } from './handshake.js';
import type { DeviceSession } from './session.js';
import type { DeviceStats } from './types.js';

/** Longest wait between two `Hello`s, ms. */
const MAX_HELLO_RETRY_MS = 30_000;

/** What the connection tells its device. */
export interface ConnectionHost {
  /** The session is up: the peer proved `peerKey` and announced `peerCaps`. */
  up(peerKey: Uint8Array, peerCaps: number): void;
  /** The up session ended (peer restart or close marker, rekey, link closed). */
  down(): void;
  /** A message to act on: an `Error` in any state, anything else only while up. */
  message(msg: Message): void;
  /** A received frame was dropped as bad (not a message, too large, or it broke the device). */
  badFrame(err: Error): void;
}

/** The counters a {@link DeviceConnection} keeps. */
export type ConnectionStats = Pick<DeviceStats, 'framesIn' | 'framesOut' | 'bytesIn' | 'bytesOut'>;

/** One device's session layer; the link comes and goes with {@link connect}/{@link disconnect}. */
export class DeviceConnection {
  private link: DeviceLink | null = null;
  private helloTimer: NodeJS.Timeout | null = null;
  private retryMs: number;
  private paused = false;

  /**
   * @param maxFrame largest body taken (the device's buffers).
   * @param retryBaseMs first `Hello` retry delay, ms.
   */
  constructor(
    readonly session: DeviceSession,
    private readonly maxFrame: number,
    private readonly retryBaseMs: number,
    private readonly stats: ConnectionStats,
    private readonly host: ConnectionHost,
  ) {
    this.retryMs = retryBaseMs;
  }

  /** Handshake state. */
  get state(): HandshakeState {
    return this.session.state;
  }

  /** Whether a link is connected. */
  get connected(): boolean {
    return this.link !== null;
  }

  /** The link opened: a fresh session, our `Hello` out at once and repeated until up. */
  connect(link: DeviceLink): void {
    this.disconnect();
    this.link = link;
    this.retryMs = this.retryBaseMs;
    this.sendBody(this.session.open());
    this.armHelloRetry();
  }

  /** The link closed: a sealed session sends its close marker first (§7.6). Idempotent. */
  disconnect(): void {
    const wasUp = this.session.state === 'up';
    const marker = this.session.closeMarker();
    if (marker !== null) this.sendBody(marker);
    this.link = null;
    this.session.close();
    this.clearHelloRetry();
    if (wasUp) this.host.down();
  }

  /** No `Hello` retries until {@link resume} (the link and the session stay). */
  pause(): void {
    this.paused = true;
    this.clearHelloRetry();
  }

  /** Retries again, from now, if the session is not up. */
  resume(): void {
    this.paused = false;
    if (this.link !== null && this.session.state !== 'up') this.armHelloRetry();
  }

  /** One received frame body. Never throws. */
  receive(body: Uint8Array): void {
    if (body.length > this.maxFrame) {
      this.host.badFrame(new TooLargeError(`frame of ${body.length} bytes exceeds ${this.maxFrame}`));
      return;
    }
    this.stats.framesIn++;
    this.stats.bytesIn += body.length;
    try {
      this.onBody(body);
    } catch (err) {
      // A bug must not take the device down with it; the frame is lost, the link stays.
      this.host.badFrame(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Send one message: sealed on a sealed session; never more than the peer said it takes. */
  send(msg: Message): void {
    if (this.link === null) return;
    if (this.session.rekeyDue) {
      // 2^31 frames under one key (§7.4): start over with fresh keys; this message is lost, and
      // the sync protocol repairs that.
      this.host.down();
      this.sendBody(this.session.restart());
      this.retryMs = this.retryBaseMs;
      this.armHelloRetry();
      return;
    }
    const body = this.session.encode(msg);
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
        // The peer ended the sealed session (§7.6): not answered; our fresh Hello waits for it.
        this.host.down();
        this.retryMs = this.retryBaseMs;
        this.armHelloRetry();
        return;
      case 'handshake':
        return this.onHandshake(input.step, input.down);
      case 'message':
        // Before the peer proved its key, nothing but an Error is heeded (PROTOCOL.md §7).
        if (input.msg.type === 'Error' || this.session.state === 'up') this.host.message(input.msg);
        else this.send(errorMessage('Unauthorized', 'authenticate first'));
    }
  }

  private onHandshake(step: HandshakeStep, down: boolean): void {
    if (down) this.host.down();
    for (const o of step.send) this.sendBody(o.body);
    const s = this.session.state;
    if (step.up) {
      this.clearHelloRetry();
      this.retryMs = this.retryBaseMs;
      this.host.up(this.session.handshake.peerKey!, this.session.handshake.peerCaps);
    } else if (s === 'refused') this.clearHelloRetry();
    else if (s === 'hello-sent' && step.send.some((o) => o.type === 'Hello')) this.armHelloRetry();
  }

  private sendBody(body: Uint8Array): void {
    if (this.link === null) return;
    this.stats.framesOut++;
    this.stats.bytesOut += body.length;
    try {
      this.link.send(body);
    } catch {
      // The link failed under us; its owner reports that and calls disconnect().
    }
  }

  private armHelloRetry(): void {
    this.clearHelloRetry();
    if (this.paused || this.link === null) return;
    const delay = this.retryMs * (1 + Math.random() / 4);
    this.helloTimer = setTimeout(() => {
      this.helloTimer = null;
      const s = this.session.state;
      if (this.link === null || s === 'up' || s === 'refused') return;
      this.retryMs = Math.min(this.retryMs * 2, MAX_HELLO_RETRY_MS);
      this.sendBody(this.session.handshake.hello());
      this.armHelloRetry();
    }, delay);
    this.helloTimer.unref();
  }

  private clearHelloRetry(): void {
    if (this.helloTimer !== null) clearTimeout(this.helloTimer);
    this.helloTimer = null;
  }
}
