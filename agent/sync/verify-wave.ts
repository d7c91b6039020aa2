/**
 * Where a wave's signatures are checked (ingest-rounds.ts). A verify on libuv's thread pool runs
 * beside the event loop, so a wave of many verifies uses every core; but a pool thread must be
 * woken and scheduled first, and on a busy small machine (a Pi, or the 2-core bench host, where
 * V8's GC helpers and the event loop hold both cores) that wait is longer than the ~0.1 ms verify
 * itself: 1–6 ms in the tail of a single push (measured from verify call to callback over 1,000
 * pushes on TCP loopback; inline, the median p99 of three such runs fell from 3.7 to 2.4 ms).
 * So a wave with one signature to check verifies it inline, at most once per event-loop turn in
 * the whole process ({@link InlineVerifyGate}): a turn that takes in many one-command pushes at
 * once (one commit fanned out to many subscribers, or many scopes) verifies the first inline and
 * the rest on the pool, so a turn's inline cost stays one verify. The verdict is the same either way.
 */
import { verifyCommandV2, verifyCommandV2Async, type CommandV2 } from '../../protocol/command-v2.js';
import { TurnSlice } from './turn-slice.js';

/** Hands out one inline verify per event-loop turn. */
export class InlineVerifyGate {
  /** A turn budget of 0: its first use in a turn is within it, every later one is not. */
  private readonly turn = new TurnSlice(0);

  /** True at most once per turn. */
  take(): boolean {
    return !this.turn.spent();
  }
}

/** The gate shared by every scope of the process: the turn it limits is the process's. */
export const inlineVerifyGate = new InlineVerifyGate();

/** One signature check: the command and the key membership says signed it. */
export interface VerifyJob {
  cmd: CommandV2;
  key: Uint8Array;
}

/**
 * Whether each job's signature verifies ({@link verifyCommandV2}), in order: inline when there is
 * exactly one and `gate` grants it, else all on the thread pool at once.
 */
export function verifyWave(jobs: readonly VerifyJob[], gate: InlineVerifyGate = inlineVerifyGate): Promise<boolean[]> {
  if (jobs.length === 1 && gate.take()) return Promise.resolve([verifyCommandV2(jobs[0]!.cmd, jobs[0]!.key)]);
  return Promise.all(jobs.map((j) => verifyCommandV2Async(j.cmd, j.key)));
}
