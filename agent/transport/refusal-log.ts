/**
 * Rate-limited reporting of turned-away connections. A flood of refusals must not become a
 * flood of log lines (one warn line per refused socket once wrote 387 MB in 80 s), so a listener
 * counts them here and one summary line per interval reports the totals and how many distinct
 * source addresses they came from.
 */

/** What happened to a connection that did not become an authenticated link. */
export type RefusalKind = 'refused' | 'evicted' | 'timedOut' | 'tlsFailed';

/** Distinct source addresses remembered per interval; more are counted as "at least". */
const MAX_TRACKED_ADDRESSES = 4096;

/** Counts of one interval. */
export interface RefusalCounts {
  refused: number;
  evicted: number;
  timedOut: number;
  tlsFailed: number;
  /** Distinct source addresses (capped at {@link MAX_TRACKED_ADDRESSES}). */
  addresses: number;
}

/**
 * Counts refusals and calls `report` at most once per `intervalMs` (only for intervals in which
 * something was counted; no timer runs while nothing happens). `flush` reports at once.
 */
export class RefusalLog {
  private counts: Omit<RefusalCounts, 'addresses'> = { refused: 0, evicted: 0, timedOut: 0, tlsFailed: 0 };
  private addresses = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  /** Totals since the listener started (status, tests). */
  readonly totals: Omit<RefusalCounts, 'addresses'> = { refused: 0, evicted: 0, timedOut: 0, tlsFailed: 0 };

  constructor(
    private readonly intervalMs: number,
    private readonly report: (counts: RefusalCounts, line: string) => void,
  ) {}

  /** Count one connection of `kind` from `address`. */
  count(kind: RefusalKind, address: string | undefined): void {
    this.counts[kind]++;
    this.totals[kind]++;
    if (address !== undefined && this.addresses.size < MAX_TRACKED_ADDRESSES) this.addresses.add(address);
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Report what was counted since the last report, if anything; stop the timer. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const c = { ...this.counts, addresses: this.addresses.size };
    this.counts = { refused: 0, evicted: 0, timedOut: 0, tlsFailed: 0 };
    this.addresses = new Set();
    if (c.refused + c.evicted + c.timedOut + c.tlsFailed === 0) return;
    const many = c.addresses >= MAX_TRACKED_ADDRESSES ? 'at least ' : '';
    const parts = [`refused ${c.refused}`, `evicted ${c.evicted}`, `timed out ${c.timedOut}`];
    if (c.tlsFailed > 0) parts.push(`TLS failed ${c.tlsFailed}`);
    this.report(c, `${parts.join(', ')} unauthenticated connections from ${many}${c.addresses} addresses`);
  }
}
