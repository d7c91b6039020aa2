/**
 * The reconnect loop shared by the TCP, TLS and serial dialers: connect, hand out the link, and
 * when it closes connect again after a jittered exponential backoff, until the transport closes.
 */
import type { Link } from '../link.js';
import { TransportError } from './errors.js';
import { FailureLog } from './failure-log.js';
import { LinkSource } from './link-source.js';
import { backoffFrom, type OpenedTransport, type ResolvedOptions } from './options.js';

/** One connection attempt: resolves with an open link, rejects on failure, aborts on `signal`. */
export type ConnectOnce = (signal: AbortSignal) => Promise<Link>;

/**
 * A dialer transport: at most one link at a time. Whatever closed the link (peer, cable, or the
 * engine calling `link.close()`), the dialer connects again after the backoff: keeping the
 * connection is its job; only `Transport.close()` stops it. A link that stayed up for `stableAfterMs`
 * resets the backoff, so a flapping peer cannot make us reconnect in a tight loop while a
 * healthy one that drops after hours reconnects at once (after the base delay).
 *
 * Logging: the first failure of a streak (a lost link, a refused connect) is one warn line
 * without a stack; further attempts are debug lines ("still unreachable after N attempts") until
 * a link stays up for `stableAfterMs` or the cause changes (`failure-log.ts`). Every failure
 * is still emitted as a `warn` event.
 */
export class RedialTransport extends LinkSource implements OpenedTransport {
  readonly localPort = undefined;
  private closed = false;
  private current: Link | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private readonly backoff;
  private readonly failures: FailureLog;

  /**
   * @param url redacted URL for {@link Transport.url}.
   * @param connectOnce makes one attempt; called again after every failure or lost link.
   */
  constructor(
    readonly url: string,
    private readonly connectOnce: ConnectOnce,
    private readonly o: ResolvedOptions,
  ) {
    super();
    this.backoff = backoffFrom(o);
    this.failures = new FailureLog(url, o.logger);
  }

  /** Begin the first attempt on the next tick, so the caller can attach `link` listeners first. */
  start(): this {
    setImmediate(() => void this.attempt());
    return this;
  }

  /** Stop reconnecting and close the current link; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.current?.close();
  }

  private async attempt(): Promise<void> {
    this.timer = null;
    if (this.closed) return;
    let link: Link;
    try {
      link = await this.connectOnce(this.abort.signal);
    } catch (err) {
      if (this.closed) return;
      this.warn(err instanceof TransportError ? err : new TransportError('ConnectFailed', `${this.url}: ${(err as Error).message}`, { cause: err }));
      this.schedule();
      return;
    }
    if (this.closed) {
      await link.close();
      return;
    }
    this.current = link;
    const upAt = performance.now();
    link.once('close', (err) => {
      this.current = null;
      if (performance.now() - upAt >= this.o.stableAfterMs) {
        this.backoff.reset();
        this.failures.succeeded();
      }
      if (this.closed) return;
      if (err) this.warn(new TransportError('Disconnected', `${this.url}: ${err.message}`, { cause: err }));
      // A version refusal asked for the maximum redial delay (protocol-v2.md §7.1).
      this.schedule(link.redialHoldMs ?? 0);
    });
    this.o.logger?.debug({ url: this.url }, 'link up');
    this.offer(link);
  }

  private schedule(atLeastMs = 0): void {
    if (this.closed || this.timer !== null) return;
    this.timer = setTimeout(() => void this.attempt(), Math.max(this.backoff.next(), atLeastMs));
  }

  private warn(err: Error): void {
    this.failures.failed(err);
    this.emit('warn', err);
  }
}
