/**
 * A fixed-bucket latency histogram: one array of counts allocated once, so observing a latency
 * allocates nothing (the metrics endpoint reads it; issue budget: no per-command allocation).
 * Buckets are upper bounds in milliseconds, Prometheus-style (`le`), plus an overflow bucket.
 */

/** Default bucket upper bounds, ms: 1 ms to 60 s, roughly ×2.5 apart (a serial line takes seconds). */
export const DEFAULT_LATENCY_BUCKETS_MS: readonly number[] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];

/** What a histogram holds at one moment. */
export interface HistogramSnapshot {
  /** Upper bounds, ms, ascending. */
  bounds: readonly number[];
  /** Cumulative counts: `cumulative[i]` observations ≤ `bounds[i]`; the last entry is the total (`+Inf`). */
  cumulative: number[];
  /** Sum of all observations, ms. */
  sumMs: number;
  /** Number of observations. */
  count: number;
}

/** Counts of observations per bucket. */
export class LatencyHistogram {
  readonly bounds: readonly number[];
  private readonly counts: Float64Array;
  private sum = 0;
  private n = 0;

  /** @param bounds ascending upper bounds in ms; default {@link DEFAULT_LATENCY_BUCKETS_MS}. */
  constructor(bounds: readonly number[] = DEFAULT_LATENCY_BUCKETS_MS) {
    for (let i = 1; i < bounds.length; i++) {
      if (!((bounds[i] ?? 0) > (bounds[i - 1] ?? 0))) throw new RangeError('histogram bounds must ascend');
    }
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Record one latency in ms (negative or NaN values, a clock step, count as 0). */
  observe(ms: number): void {
    const v = ms > 0 ? ms : 0;
    let i = 0;
    while (i < this.bounds.length && v > (this.bounds[i] ?? Infinity)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += v;
    this.n++;
  }

  /** Number of observations so far. */
  get count(): number {
    return this.n;
  }

  /** A copy in cumulative form (what the Prometheus text format wants). */
  snapshot(): HistogramSnapshot {
    const cumulative: number[] = [];
    let acc = 0;
    for (const c of this.counts) cumulative.push((acc += c));
    return { bounds: this.bounds, cumulative, sumMs: this.sum, count: this.n };
  }
}
