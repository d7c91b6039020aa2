/**
 * Poll trains (PROTOCOL.md §10.6), the responder's arithmetic: whether answer k of a train is
 * followed by answer k + 1, and the request that answer k + 1 answers (the one the requester
 * would send next). Pure: no I/O, no timers.
 */
import { MAX_HEADS, MAX_SAMPLE } from '../../protocol/constants.js';
import { decodeHorizonRecord } from '../../protocol/horizon-record.js';
import type { PollRequest, PollResponse } from '../../protocol/messages-v2.js';

/**
 * Bytes a train answer's trailing fields add beyond what the answer fit counts: `batch` null and
 * `train` (one byte each; the array head stays one byte up to 23 elements).
 */
export const TRAIN_FIELD_BYTES = 2;

/**
 * Whether polls on the link described by `description` ask for trains: TCP, TLS and in-process
 * links, where a long answer costs little ("start big on fast links"); not serial or MQTT links,
 * where a train would hold a slow or metered line (their polls stay one answer each).
 */
export function linkTakesTrains(description: string): boolean {
  return /^(tcp|tls|memory):/.test(description);
}

/** Where one train stands on the responder. */
export interface TrainState {
  /** The request as the requester sent it (heads and sample of every later answer start from it). */
  readonly first: PollRequest;
  /** `T`: the bytes the train may total. */
  readonly trainBytes: number;
  /** `b`: the budget of each answer, min(`max_bytes`, the requester's frame limit). */
  readonly budget: number;
  /** `s_k`: encoded bytes of the answers sent so far. */
  spent: number;
  /** Answers sent so far. */
  answers: number;
}

/** A new train for `req` when it asks for one (`trainBytes` > 0 after the caps check), else null. */
export function startTrain(req: PollRequest, trainBytes: number, frameLimit: number): TrainState | null {
  if (trainBytes <= 0) return null;
  return { first: req, trainBytes, budget: Math.min(req.max_bytes, frameLimit), spent: 0, answers: 0 };
}

/**
 * §10.6 step 3, after answer k of `size` encoded bytes (its `train` field counted): true iff
 * answer k + 1 follows (it carried an item, `more`, and `s_k + b ≤ T`). Records the answer in `t`.
 * An answer whose budget fit nothing ends the train: the next one would fit nothing either.
 */
export function trainContinues(t: TrainState, res: Pick<PollResponse, 'more' | 'items' | 'batch'>, size: number): boolean {
  t.spent += size;
  t.answers++;
  const carried = res.items.length > 0 || (res.batch !== undefined && res.batch !== null);
  return res.more && carried && t.spent + t.budget <= t.trainBytes;
}

/**
 * §10.6 step 2: the request answer k + 1 answers. `res` is answer k and `lastCommand` the id of
 * the last command it carried, in its items or its compact batch (null when it carried none: the
 * answerer knows it, so nothing is decoded again). That command goes among the first request's
 * heads (replacing its last head when the list is full); an answer of records only adds its last
 * record to the sample.
 */
export function nextTrainRequest(t: TrainState, res: Pick<PollResponse, 'items'>, lastCommand: Uint8Array | null): PollRequest {
  const first = t.first;
  if (lastCommand !== null) {
    const heads = first.heads.length < MAX_HEADS ? [...first.heads, lastCommand] : [...first.heads.slice(0, MAX_HEADS - 1), lastCommand];
    return { ...first, heads };
  }
  const lastItem = res.items[res.items.length - 1];
  if (lastItem === undefined) return first; // not reached: an answer without items ends its train
  const id = decodeHorizonRecord(lastItem).id;
  const sample = first.sample.length < MAX_SAMPLE ? [...first.sample, id] : [...first.sample.slice(0, MAX_SAMPLE - 1), id];
  return { ...first, sample };
}
