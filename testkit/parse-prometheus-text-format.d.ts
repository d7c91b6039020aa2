/**
 * Minimal types for parse-prometheus-text-format (it ships none): what test/metrics.test.ts reads.
 * Values stay strings as the parser returns them (`"+Inf"`, `"NaN"` included).
 */
declare module 'parse-prometheus-text-format' {
  /** One sample (counter, gauge, untyped) or one histogram/summary series. */
  export interface ParsedMetric {
    value?: string;
    labels?: Record<string, string>;
    /** Histograms: upper bound (as written in `le`) → cumulative count. */
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  /** One family. */
  export interface ParsedFamily {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: ParsedMetric[];
  }
  /** Parse an exposition; throws on some malformed input. */
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
