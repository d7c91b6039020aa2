/** Base class of every transport: emits `link`, holding links that appear before anyone listens. */
import { EventEmitter } from 'node:events';
import type { Link, TransportEvents } from '../link.js';

/**
 * A transport's event side. A dialer can connect within the same tick as it was opened (the
 * simulated serial binding does), so a caller that awaits something else before attaching its
 * `link` listener would miss the link. Links offered while nobody listens are held and emitted
 * as soon as a `link` listener is attached.
 */
export abstract class LinkSource extends EventEmitter<TransportEvents> {
  private held: Link[] = [];

  constructor() {
    super();
    (this as EventEmitter).on('newListener', (event: string) => {
      // `newListener` fires before the listener is added: deliver just after.
      if (event === 'link' && this.held.length > 0) queueMicrotask(() => this.flush());
    });
  }

  /** Emit `link` now, or hold it until someone listens. */
  protected offer(link: Link): void {
    if (this.listenerCount('link') > 0) this.emit('link', link);
    else this.held.push(link);
  }

  private flush(): void {
    const links = this.held;
    this.held = [];
    // A `once` listener takes one link; the rest wait for the next listener.
    for (const link of links) this.offer(link);
  }
}
