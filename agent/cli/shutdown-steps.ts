/**
 * The ordered shutdown of a starting or running node: each part opened pushes the step that
 * closes it, and {@link ShutdownSteps.unwind} runs them newest first, so a part is closed before
 * what it depends on (links before the engine, the engine before its store, the lock last). A
 * failing step is logged and the others still run: one broken part must not leave the store
 * unflushed or the lock held.
 */
import type { Logger } from '../node/log.js';

/** A close step; may be async. */
export type ShutdownStep = () => Promise<void> | void;

/** The steps pushed so far. */
export interface ShutdownSteps {
  push(step: ShutdownStep): void;
  /** Run every step pushed, newest first, each once (a second call runs only steps pushed since). */
  unwind(): Promise<void>;
}

/** Steps starting with `first` (usually the lock's release), failures logged on `log`. */
export function shutdownSteps(log: Logger, first: ShutdownStep): ShutdownSteps {
  const steps: ShutdownStep[] = [first];
  return {
    push: (step) => void steps.push(step),
    unwind: async () => {
      for (const step of steps.splice(0).reverse()) {
        try {
          await step();
        } catch (err) {
          log.error({ err: String(err) }, 'shutdown step failed');
        }
      }
    },
  };
}
