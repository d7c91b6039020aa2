/** Base class of the transport links: holds early frames until someone listens. */
import { EventEmitter } from 'node:events';
import type { LinkEvents } from '../link.js';
import type { SealPolicy } from '../../protocol/seal.js';

/** Most frames held for a link nobody listens to yet; later ones are dropped (the protocol repairs loss). */
const MAX_HELD_FRAMES = 64;

/**
 * A link's event side. A frame can arrive before the consumer attached its `frame` listener
 * (an MQTT listener's link exists because a frame arrived; a link held by its transport until
 * someone listened). Such frames are held, up to {@link MAX_HELD_FRAMES}, and delivered as soon
 * as a `frame` listener is attached.
 */
export abstract class BaseLink extends EventEmitter<LinkEvents> {
  /** See {@link Link.sealPolicy}; every transport link states it. */
  abstract readonly sealPolicy: SealPolicy;
  private held: Uint8Array[] = [];
  private authed = false;
  private sealedFlag = false;

  constructor() {
    super();
    (this as EventEmitter).on('newListener', (event: string) => {
      // `newListener` fires before the listener is added: deliver just after.
      if (event === 'frame' && this.held.length > 0) queueMicrotask(() => this.flushHeld());
    });
  }

  /** True once {@link markAuthenticated} was called. */
  get authenticated(): boolean {
    return this.authed;
  }

  /** See {@link Link.markAuthenticated}: emits `authenticated` the first time. */
  markAuthenticated(): void {
    if (this.authed) return;
    this.authed = true;
    this.emit('authenticated');
  }

  /** True once {@link markSealed} was called. */
  get sealed(): boolean {
    return this.sealedFlag;
  }

  /**
   * See {@link Link.markSealed}: from now on only the session's sealed frames may end the link
   * (subclasses read {@link sealed}). Idempotent; emits nothing.
   */
  markSealed(): void {
    this.sealedFlag = true;
  }

  /** See {@link Link.redialHoldMs}. */
  redialHoldMs = 0;

  /** See {@link Link.holdRedial}: the dialer reads {@link redialHoldMs} when the link closes. */
  holdRedial(ms: number): void {
    this.redialHoldMs = Math.max(this.redialHoldMs, ms);
  }

  /** Emit `frame`, or hold it while nobody listens. */
  protected deliverFrame(body: Uint8Array): void {
    if (this.listenerCount('frame') > 0) this.emit('frame', body);
    else if (this.held.length < MAX_HELD_FRAMES) this.held.push(body);
  }

  /** Forget held frames (the link closed). */
  protected dropHeld(): void {
    this.held = [];
  }

  private flushHeld(): void {
    const frames = this.held;
    this.held = [];
    for (const f of frames) this.deliverFrame(f);
  }
}
