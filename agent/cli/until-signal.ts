/**
 * A long-running agent's process life: run until SIGINT or SIGTERM, reload trust on SIGHUP, and
 * keep a service manager informed (systemd `Type=notify`: READY, WATCHDOG, RELOADING, STOPPING;
 * agent/node/systemd-notify.ts says why the notifier spawns `systemd-notify`).
 */
import { createNotifier, type Notifier } from '../node/systemd-notify.js';
import type { JsonLogger } from './logger.js';
import type { RunningNodeV2 } from './run-node-v2.js';

/** What {@link untilSignal} drives: the parts of a {@link RunningNodeV2} signals act on. */
export type SignalTarget = Pick<RunningNodeV2, 'close' | 'reload' | 'healthy'>;

/**
 * Resolve with exit status 0 after SIGINT or SIGTERM has closed `node` (a second signal exits
 * at once with status 1, for a shutdown stuck on a dead device). SIGHUP (`systemctl reload`)
 * re-reads `trust.keysFile` (a bad file is logged and the trust in force stays). With a
 * service manager (`notifier` enabled): `READY=1` now, `WATCHDOG=1` while the event loop is
 * healthy, `RELOADING=1`/`READY=1` around a reload and `STOPPING=1` at shutdown.
 */
export function untilSignal(node: SignalTarget, log: JsonLogger, notifier: Notifier = createNotifier(process.env, { log })): Promise<number> {
  return new Promise((resolve) => {
    // Listeners and sockets usually keep the process alive, but a serial-only agent waiting for
    // its device may hold nothing but unref'd timers.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal: sig }, 'second signal: exiting without a clean shutdown');
        process.exit(1);
      }
      stopping = true;
      clearInterval(keepAlive);
      notifier.stopping();
      log.info({ signal: sig }, 'shutting down');
      void node.close().then(
        async () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          process.off('SIGHUP', onHangup);
          await notifier.close();
          log.info({}, 'stopped');
          resolve(0);
        },
        async (err) => {
          await notifier.close();
          log.error({ err: String(err) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    const onHangup = (): void => {
      if (stopping) return;
      notifier.reloading();
      try {
        node.reload();
      } catch (err) {
        log.error({ signal: 'SIGHUP', err: (err as Error).message }, 'reload refused: the trust in force is unchanged');
      }
      notifier.ready();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onHangup);
    notifier.ready();
    notifier.startWatchdog(() => node.healthy());
  });
}
