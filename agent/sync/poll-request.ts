/**
 * The `PollRequest` a requester sends (PROTOCOL.md §8.2): our deepest heads and a sample of our
 * graph, as many as the shaped budget allows — the peer's last reported heads first in the
 * sample, so a responder finds the common point at once — and, within a round, the last command
 * of the newest answer named among the heads (the frontier).
 */
import { MAX_SAMPLE } from '../../protocol/constants.js';
import { equalBytes } from '../../protocol/bytes.js';
import { encodeMessage } from '../../protocol/envelope.js';
import type { CommandStore } from '../store/command-store.js';
import { deepestFirst, sampleOf } from './graph-walk.js';
import type { PollShaper } from './poll-shaper.js';

/**
 * The encoded request of poll `session`. `frontier` (empty when none): named as held — before it
 * is verified (pipelining) and after, when it need not be among our deepest heads (a device's
 * commands, say, while other writers' heads are deeper) — so a responder continues from where it
 * stopped instead of resending what did not fit in our heads.
 */
export function pollRequestBody(store: CommandStore, session: number, shaper: PollShaper, peerHeads: readonly Uint8Array[], frontier: Uint8Array): Uint8Array {
  const heads = deepestFirst(store, store.heads(), shaper.headsCap);
  const preferred = peerHeads.map((id) => store.indexOf(id)).filter((x) => x >= 0);
  const headSet = new Set(heads);
  const sample = sampleOf(store, MAX_SAMPLE + heads.length, preferred).filter((x) => !headSet.has(x)).slice(0, shaper.sampleCap);
  const headIds: Uint8Array[] = heads.map((x) => Uint8Array.from(store.idOf(x)));
  if (frontier.length > 0 && !headIds.some((id) => equalBytes(id, frontier))) headIds.splice(Math.max(0, shaper.headsCap - 1), headIds.length, frontier);
  return encodeMessage({ type: 'PollRequest', session, max_bytes: shaper.budget, heads: headIds, sample: sample.map((x) => Uint8Array.from(store.idOf(x))) });
}
