/**
 * The v2 device's telemetry (§7 item 9): every period a sample `[peerId, counter, reading]`
 * (CBOR) is committed to the device scope. The counter counts samples taken, committed or not,
 * so a gap in the counters a gateway sees is a sample the device could not commit. Timers come
 * from the injected scheduler.
 */
import type { ArqScheduler } from '../../protocol/arq/driver.js';
import { encodeCbor } from '../../protocol/cbor.js';
import type { CommandV2 } from '../../protocol/command-v2.js';

/** The default sensor: a slow sine around 2000. */
export const defaultSensor = (n: number): number => 2000 + Math.round(300 * Math.sin(n / 10));

/** One device's telemetry loop. */
export class TelemetryV2 {
  private counter = 0;
  private cancel: (() => void) | null = null;

  /**
   * @param commit commits a payload to the device scope; null when refused.
   * @param readSensor the reading for a counter value (an integer; a throw or a non-integer reads 0).
   */
  constructor(
    private readonly peerId: string,
    private readonly periodMs: number,
    private readonly scheduler: ArqScheduler,
    private readonly readSensor: (counter: number) => number,
    private readonly commit: (payload: Uint8Array) => CommandV2 | null,
  ) {}

  /** Sample every period from now on. Idempotent. */
  start(): void {
    if (this.cancel !== null) return;
    const tick = (): void => {
      this.sample();
      this.cancel = this.scheduler.setTimer(tick, this.periodMs);
    };
    this.cancel = this.scheduler.setTimer(tick, this.periodMs);
  }

  /** Stop sampling. */
  stop(): void {
    this.cancel?.();
    this.cancel = null;
  }

  /** Take one sample now and commit it; the command, or null when the commit was refused. */
  sample(): CommandV2 | null {
    this.counter++;
    let reading = 0;
    try {
      reading = Math.trunc(this.readSensor(this.counter));
    } catch {
      // A failing sensor still yields a sample (0).
    }
    return this.commit(encodeCbor([this.peerId, this.counter, Number.isSafeInteger(reading) ? reading : 0]));
  }
}
