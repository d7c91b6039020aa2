/**
 * Logging of expected transport failures (connect refused, device missing, broker gone): one
 * warn line without a stack when a failure streak starts or its cause changes, then a debug
 * counter per attempt until the state changes. An unplugged adapter retrying all day writes one
 * warning, not thousands of stack traces.
 */
import type { Logger } from '../node/log.js';

/** A short, stable description of a failure: the error code when there is one, else the message. */
function causeOf(err: Error): string {
  const code = (err as { code?: unknown }).code ?? ((err as { cause?: { code?: unknown } }).cause?.code);
  return typeof code === 'string' ? code : err.message;
}

/**
 * One streak counter per dialer. `failed` logs `warn` for the first failure of a streak (and
 * whenever the cause changes), `debug` "still unreachable after N attempts" for the rest;
 * `succeeded` ends the streak (a debug line with the count, if there was a streak).
 */
export class FailureLog {
  private attempts = 0;
  private cause = '';

  /** @param url redacted URL named in every line. */
  constructor(
    private readonly url: string,
    private readonly logger: Logger | undefined,
  ) {}

  /** Failures in the current streak. */
  get streak(): number {
    return this.attempts;
  }

  /** Record one failed attempt (or a lost connection) and log it as described above. */
  failed(err: Error): void {
    this.attempts++;
    const cause = causeOf(err);
    const kind = (err as { kind?: unknown }).kind;
    if (this.attempts === 1 || cause !== this.cause) {
      this.cause = cause;
      // The message and code only: a stack says nothing about a refused connection.
      this.logger?.warn({ url: this.url, ...(typeof kind === 'string' ? { kind } : {}), cause, attempts: this.attempts }, err.message);
      return;
    }
    this.logger?.debug({ url: this.url, cause, attempts: this.attempts }, `still unreachable after ${this.attempts} attempts`);
  }

  /** The transport connected again: end the streak. */
  succeeded(): void {
    if (this.attempts > 0) this.logger?.debug({ url: this.url, attempts: this.attempts }, `reachable again after ${this.attempts} failed attempts`);
    this.attempts = 0;
    this.cause = '';
  }
}
