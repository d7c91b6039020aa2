/**
 * One upstream listener shared by any number of subscribers. Node warns
 * (MaxListenersExceededWarning) once an EventEmitter or an AbortSignal holds more than 10
 * listeners, and the API serves up to 32 followers per listener, each waiting on the engine's
 * `commands` event and on the agent's closing signal: through a fan-out each of those holds one.
 */

/** Subscribe `listener` somewhere; returns the function that unsubscribes it. */
export type Subscribe = (listener: () => void) => () => void;

/**
 * A {@link Subscribe} that takes one upstream listener through `subscribe` on the first
 * subscriber and releases it after the last. Subscribers are called in subscription order; one
 * that unsubscribes (or subscribes) while being called is fine: each call goes to the
 * subscribers present when the upstream event fired. Unsubscribing twice is a no-op.
 *
 * Usage: `onAdded: fanOut((l) => { engine.on('commands', l); return () => engine.off('commands', l); })`.
 */
export function fanOut(subscribe: Subscribe): Subscribe {
  const listeners = new Set<() => void>();
  let release: (() => void) | null = null;
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  return (listener) => {
    // A wrapper per subscription, so one function subscribed twice is two subscriptions.
    const own = (): void => listener();
    listeners.add(own);
    release ??= subscribe(notify);
    return () => {
      if (!listeners.delete(own) || listeners.size > 0 || !release) return;
      const r = release;
      release = null;
      r();
    };
  };
}

const abortHubs = new WeakMap<AbortSignal, Subscribe>();

/**
 * Call `listener` once `signal` aborts; returns the function that unsubscribes. Every caller on
 * one signal shares one listener on it ({@link fanOut}). The caller checks `signal.aborted`
 * first: a signal that already aborted never calls `listener`.
 */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  let hub = abortHubs.get(signal);
  if (!hub) {
    hub = fanOut((l) => {
      signal.addEventListener('abort', l, { once: true });
      return () => signal.removeEventListener('abort', l);
    });
    abortHubs.set(signal, hub);
  }
  return hub(listener);
}
