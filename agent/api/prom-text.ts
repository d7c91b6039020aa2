/**
 * A small writer for the Prometheus text exposition format, version 0.0.4 (what `GET /metrics`
 * answers): `# HELP` and `# TYPE` once per family, then its samples, one per line. Only what
 * syncwire's metrics need: counters, gauges and histograms with pre-cumulated buckets. No
 * registry, no state between scrapes: the caller walks its counters and writes them
 * (metrics-v2.ts). The Content-Type is routes.ts's METRICS_CONTENT_TYPE.
 *
 * Why an own writer and not prom-client 15.1.3 — measured 2026-12-01 with bench/metrics-cost.mjs
 * (fresh node per variant, loader and young generation warmed first, then import + ~25
 * collect-style families + 20 scrapes of a 10-peer snapshot; median of 7): own encoder RSS +0.7 MB,
 * heap +0.0 MB (baseline ±0.4 MB); prom-client RSS +3.2 MB, heap +1.3 MB. The API's budget is
 * ≤ 3 MB of idle RSS for everything (server, routes, stream, metrics); prom-client alone spends
 * it, and its registry keeps a second copy of every series where this reads the counters the
 * engine already keeps, once per scrape.
 */

/** Metric types this writer emits. */
export type PromType = 'counter' | 'gauge' | 'histogram';

/** A metric or label name broke the format's grammar (a programming error: names are constants). */
export class PromNameError extends Error {
  override readonly name = 'PromNameError';
  readonly reason = 'bad_metric_name';
  constructor(readonly what: string) {
    super(`not a valid Prometheus name: ${JSON.stringify(what)}`);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value escaped for the format: backslash, double quote and line feed (the only three). */
export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text escaped for the format: backslash and line feed. */
export function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** A sample value as the format spells it (`NaN`, `+Inf`, `-Inf`, else JavaScript's shortest decimal). */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/**
 * A rendered label set, `{a="x",b="y"}`, or `''` for none. Render it once and reuse it across
 * families (a peer's label block serves every per-peer family).
 * @throws PromNameError on a label name outside `[a-zA-Z_][a-zA-Z0-9_]*` or starting with `__`.
 */
export function labels(pairs: readonly (readonly [name: string, value: string])[]): string {
  if (pairs.length === 0) return '';
  let out = '{';
  for (let i = 0; i < pairs.length; i++) {
    const [k, v] = pairs[i]!;
    if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new PromNameError(k);
    out += `${i > 0 ? ',' : ''}${k}="${escapeLabelValue(v)}"`;
  }
  return `${out}}`;
}

/** A histogram's state in the units it is exposed in: upper bounds ascending, counts cumulative. */
export interface PromHistogram {
  /** Finite upper bounds (`le`), ascending. */
  bounds: readonly number[];
  /** `cumulative[i]` = observations ≤ `bounds[i]`; one more entry at the end, the total (`+Inf`). */
  cumulative: readonly number[];
  sum: number;
  count: number;
}

/** Accumulates one exposition. Families must be written whole, one after another (the format's rule). */
export class PromWriter {
  private readonly parts: string[] = [];
  private current = '';

  /**
   * Start a family: its HELP and TYPE lines. Samples written after belong to it.
   * @throws PromNameError on a name outside `[a-zA-Z_:][a-zA-Z0-9_:]*`.
   */
  family(name: string, type: PromType, help: string): this {
    if (!METRIC_NAME.test(name)) throw new PromNameError(name);
    this.current = name;
    this.parts.push(`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`);
    return this;
  }

  /** One sample of the current family; `labelBlock` from {@link labels} (default none). */
  sample(value: number, labelBlock = ''): this {
    this.parts.push(`${this.current}${labelBlock} ${formatValue(value)}\n`);
    return this;
  }

  /**
   * The samples of one histogram of the current family: `_bucket{le}` for each bound and `+Inf`,
   * `_sum` and `_count`. `labelBlock` (from {@link labels}) is merged before `le`.
   */
  histogram(h: PromHistogram, labelBlock = ''): this {
    const name = this.current;
    const inner = labelBlock === '' ? '' : `${labelBlock.slice(1, -1)},`;
    for (let i = 0; i <= h.bounds.length; i++) {
      const le = i < h.bounds.length ? formatValue(h.bounds[i]!) : '+Inf';
      const c = h.cumulative[i] ?? h.count;
      this.parts.push(`${name}_bucket{${inner}le="${le}"} ${formatValue(c)}\n`);
    }
    this.parts.push(`${name}_sum${labelBlock} ${formatValue(h.sum)}\n${name}_count${labelBlock} ${formatValue(h.count)}\n`);
    return this;
  }

  /** The exposition so far. */
  toString(): string {
    return this.parts.join('');
  }
}
