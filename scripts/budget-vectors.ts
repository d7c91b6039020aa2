/**
 * Budget test vectors (docs/PROTOCOL.md §8.1, §9.4): a `PollResponse` trimmed by the request's
 * `max_bytes` and a `Push` that exhausts the subscription's budget, each produced by the agent's
 * own responder and push planner over the five commands of `commands.json`. They go into
 * `messages.json` as ordinary cases (so they are checked both ways like every message) with the
 * inputs that produced them; `test/vectors.test.ts` runs the agent on those inputs again and
 * checks it still answers exactly this.
 */
import type { Command } from '../protocol/command.js';
import type { PollRequest, PollResponse, Push } from '../protocol/messages.js';
import { decodeMessage } from '../protocol/envelope.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { PollResponder } from '../agent/sync/poll-responder.js';
import { planPush } from '../agent/sync/push.js';
import { SubscriptionTable } from '../agent/sync/subscription-table.js';

/** Inputs of the trimmed poll answer: a bootstrap poll with a 400-byte budget. */
export const TRIMMED_POLL = { max_bytes: 400, frame_limit: 65536, next_poll_ms: 0, session: 9 } as const;
/** Inputs of the exhausting push: known head genesis, 300 bytes of budget left. */
export const EXHAUSTING_PUSH = { budget: 300, frame_limit: 65536, bare: false } as const;

/** A memory store holding `graph` (in causal order). */
export function storeOf(graph: readonly Command[]): MemoryStore {
  const s = new MemoryStore();
  for (const c of graph) s.append(c);
  return s;
}

/** The agent's answer to a bootstrap `PollRequest` with {@link TRIMMED_POLL}'s budget. */
export function trimmedPoll(graph: readonly Command[]): { request: PollRequest; response: PollResponse } {
  const request: PollRequest = { type: 'PollRequest', session: TRIMMED_POLL.session, max_bytes: TRIMMED_POLL.max_bytes, heads: [], sample: [] };
  const response = new PollResponder(storeOf(graph)).answer('vector-peer', request, TRIMMED_POLL.frame_limit, TRIMMED_POLL.next_poll_ms);
  return { request, response };
}

/**
 * The agent's push to a subscriber that holds `graph[0]` (genesis) with {@link EXHAUSTING_PUSH}'s
 * budget left: the frames it sends (decoded), and the budget it then believes is left.
 */
export function exhaustingPush(graph: readonly Command[]): { pushes: Push[]; exhausted: boolean; budget_after: number } {
  const store = storeOf(graph);
  const table = new SubscriptionTable(2);
  const slot = table.upsert('0000000000000000', Number.MAX_SAFE_INTEGER, EXHAUSTING_PUSH.budget);
  table.setKnown(slot, [store.indexOf(graph[0]!.id)]);
  const plan = planPush(store, table, slot, EXHAUSTING_PUSH.frame_limit, EXHAUSTING_PUSH.bare, () => false);
  return { pushes: plan.frames.map((f) => decodeMessage(f) as Push), exhausted: plan.exhausted, budget_after: table.remainingOf(slot) };
}
