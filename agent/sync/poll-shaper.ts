/**
 * Shapes a requester's polls to the link it finds itself on. On a noisy UART the chance that a
 * frame survives falls with its length (at 1 % byte loss a 200-byte frame arrives 13 % of the
 * time, a 4 KiB one practically never), and a timeout of seconds wastes the line. So:
 *
 * - the budget starts at {@link START_BUDGET} and doubles with every answer (slow start);
 * - every timed-out poll quarters the answer budget (down to {@link MIN_BUDGET}) and the sample,
 *   and every answered one doubles them back toward the configured maximum — the requests and
 *   answers shrink until they get through, and grow again on a clean link;
 * - so an answer with no command but `more` (the next command did not fit) also doubles it;
 * - the timeout is learned, like TCP's RTO: latency and per-byte time are estimated from answered
 *   polls, and a poll times out after twice the time its request and largest answer should take.
 */
import { MAX_HEADS, MAX_SAMPLE, POLL_FIT_ANY_BYTES } from '../../protocol/constants.js';

/** Smallest answer budget the shaper asks for: one ~200-byte command and its envelope. */
export const MIN_BUDGET = 320;
/** First budget (slow start, as TCP's window): a clean link reaches 64 KiB in four answers. */
export const START_BUDGET = 4096;
/** Shortest poll timeout once the link has been measured. */
export const MIN_TIMEOUT_MS = 250;
/** Longest poll timeout: past it, shrinking the request is the better bet than waiting. */
export const MAX_TIMEOUT_MS = 20000;
/** Slowest per-byte time believed (~9600 baud); a slow answer on a lossy line must not teach more. */
const MAX_MS_PER_BYTE = 1;

/** Per-peer poll shaping state. */
export class PollShaper {
  /** `max_bytes` of the next poll. */
  budget: number;
  /** Most sample ids in the next poll. */
  sampleCap = MAX_SAMPLE;
  /** Most head ids in the next poll. */
  headsCap = MAX_HEADS;
  private latencyMs: number;
  private msPerByte: number;
  private readonly maxLatencyMs: number;

  /**
   * @param maxBudget the configured `max_bytes` ceiling (already clamped to frame sizes).
   * @param initialTimeoutMs timeout before anything is measured (half of it is taken as latency).
   * @param initialMsPerByte assumed transfer time per byte before it is measured.
   * @param frameLimit the largest answer the link and this agent take (default `maxBudget`).
   */
  constructor(
    private readonly maxBudget: number,
    initialTimeoutMs: number,
    initialMsPerByte: number,
    private readonly frameLimit = maxBudget,
  ) {
    this.budget = Math.min(maxBudget, START_BUDGET);
    this.latencyMs = this.maxLatencyMs = initialTimeoutMs / 2;
    this.msPerByte = initialMsPerByte;
  }

  /** Timeout for a poll whose request is `requestBytes` long. */
  timeoutMs(requestBytes: number): number {
    const expected = this.latencyMs + this.msPerByte * (requestBytes + this.budget);
    return Math.round(Math.min(MAX_TIMEOUT_MS, Math.max(MIN_TIMEOUT_MS, 2 * expected)));
  }

  /** A poll was answered after `elapsedMs`, with `bytes` moved in both directions. */
  answered(elapsedMs: number, bytes: number): void {
    // Small exchanges measure latency; large ones the per-byte time on top of it.
    if (bytes < 2048) this.latencyMs = 0.75 * this.latencyMs + 0.25 * elapsedMs;
    else this.msPerByte = Math.min(MAX_MS_PER_BYTE, 0.75 * this.msPerByte + 0.25 * Math.max(0, (elapsedMs - this.latencyMs) / bytes));
    this.budget = Math.min(this.maxBudget, this.budget * 2);
    this.sampleCap = Math.min(MAX_SAMPLE, this.sampleCap * 2 + 1);
    this.headsCap = Math.min(MAX_HEADS, this.headsCap * 2);
  }

  /**
   * An answer carried no command and `more`: the next command did not fit the budget. Double it
   * — beyond the configured maximum when that is below {@link POLL_FIT_ANY_BYTES}, which fits any
   * command (PROTOCOL.md §8.2), but never beyond that on this account nor beyond `frameLimit`.
   */
  fitNothing(): void {
    const ceiling = Math.min(this.frameLimit, Math.max(this.maxBudget, POLL_FIT_ANY_BYTES));
    this.budget = Math.max(this.budget, Math.min(ceiling, this.budget * 2));
  }

  /** A poll timed out: shrink everything it sent and asked for. */
  timedOut(): void {
    this.budget = Math.max(Math.min(MIN_BUDGET, this.maxBudget), Math.floor(this.budget / 4));
    this.sampleCap = Math.floor(this.sampleCap / 4);
    this.headsCap = Math.max(1, Math.floor(this.headsCap / 4));
    // Back the latency estimate off a little (a slow peer is not a lost frame), never beyond
    // the unmeasured starting guess.
    this.latencyMs = Math.min(this.maxLatencyMs, this.latencyMs * 1.5);
  }
}
