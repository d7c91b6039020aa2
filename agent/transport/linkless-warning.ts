/**
 * The MQTT transport's "connected but linkless" warning: a broker connection that carries no
 * authenticated link for a while usually means a wrong peer id, prefix or trust key, which the
 * broker cannot tell us. One warn line (and one `warn` event) per linkless stretch.
 */
import { TransportError } from './errors.js';
import type { Logger } from '../node/log.js';

/** One pending warning timer; the transport decides when a linkless stretch starts and ends. */
export class LinklessWarning {
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param afterMs how long a stretch lasts before the warning (`mqttLinklessWarnMs`).
   * @param who what is missing, for the log line ("no peer has linked", ...).
   * @param emitWarn emits the `warn` event on the transport.
   */
  constructor(
    private readonly url: string,
    private readonly afterMs: number,
    private readonly who: string,
    private readonly logger: Logger | undefined,
    private readonly emitWarn: (err: Error) => void,
  ) {}

  /** A linkless stretch began (or goes on): warn after `afterMs` unless {@link disarm}ed first. No-op while armed. */
  arm(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.logger?.warn({ url: this.url, linklessMs: this.afterMs }, `connected to the broker for ${Math.round(this.afterMs / 1000)} s, ${this.who}`);
      this.emitWarn(new TransportError('Disconnected', `${this.url}: broker-connected without a link for ${this.afterMs} ms`));
    }, this.afterMs);
    // A warning alone must not keep the process alive.
    this.timer.unref();
  }

  /** The stretch ended (a link authenticated, the broker went away, the transport closed). */
  disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
