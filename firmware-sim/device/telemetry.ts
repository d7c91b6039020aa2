/**
 * The device's application: a sensor read every period and committed as a telemetry command
 * whose payload is the CBOR array `[peerId, counter, reading]`. The protocol's CBOR has no
 * floats, so readings are kept integral; a failing sensor still yields a sample (0), and a
 * sample the ring refuses (full of own commands no peer holds yet) is dropped at the source.
 * The timer is unref'd: telemetry never keeps the process alive.
 */
import { encodeCbor } from '../../protocol/index.js';
import { DeviceRingFullError } from './ring.js';

/** Periodic telemetry of one device. */
export class Telemetry {
  private timer: NodeJS.Timeout | null = null;
  private counter = 0;

  /**
   * @param periodMs sampling period, ms.
   * @param readSensor the reading for a counter value.
   * @param commit stores one payload as an own command; may throw {@link DeviceRingFullError}.
   */
  constructor(
    private readonly peerId: string,
    readonly periodMs: number,
    private readonly readSensor: (counter: number) => number,
    private readonly commit: (payload: Uint8Array) => void,
  ) {}

  /** Start sampling (no-op while running). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sample(), this.periodMs);
    this.timer.unref();
  }

  /** Stop sampling. Idempotent. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Take and commit one sample now. */
  sample(): void {
    this.counter++;
    let reading = 0;
    try {
      reading = this.readSensor(this.counter);
    } catch {
      // A failing sensor still produces a sample (0); the timer must not throw.
    }
    if (!Number.isSafeInteger(reading)) reading = Number.isFinite(reading) ? Math.trunc(reading) : 0;
    try {
      this.commit(encodeCbor([this.peerId, this.counter, reading]));
    } catch (err) {
      // Counted in stats.commitsRefused by the commit; the timer goes on.
      if (!(err instanceof DeviceRingFullError)) throw err;
    }
  }
}
