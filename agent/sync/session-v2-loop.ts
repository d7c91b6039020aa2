/**
 * Building the per-(link, scope) poll loop of a v2 session, wired to the scope host and the
 * session's push side.
 */
import { CAPABILITY_COMPACT_BATCH, CAPABILITY_POLL_TRAIN, SEGMENT_BYTES } from '../../protocol/constants-v2.js';
import type { ClientPacer } from './pacing.js';
import { linkTakesTrains } from './poll-train.js';
import type { PushLinkV2 } from './pusher-v2.js';
import type { PeerRef } from './scope-host.js';
import { ScopePollLoop } from './scope-poll-loop.js';
import { scopeKey } from './scope-table.js';
import type { ScopedSession } from './scoped-session.js';
import type { SessionV2Host } from './session-v2-host.js';
import type { SessionV2Push } from './session-v2-push.js';

/**
 * The poll loop of scope `scopeId` on one v2 session (docs/design/v2-scopes.md §3.4): it asks the
 * scope's host for each poll under the number the peer gave S, answers go back to that host, and
 * a completed round tells the push side (which may then subscribe). On a link where trains pay
 * ({@link linkTakesTrains}) and to a peer that announced `PollTrain`, each poll asks for a train of
 * `pollTrainBytes` (PROTOCOL.md §10.6); elsewhere `train_bytes` stays absent. To a peer that
 * announced `CompactBatch`, a host with the engine setting `elide` asks for covered commands
 * without their signatures (§10.7; {@link ScopeHost.request} applies C4's pause), in segments of
 * the engine setting `elideSegment` (field 9, absent at its least, 1,024). Every loop of the
 * session reports its timeouts to the one {@link ScopedSession.watchdog} of the link (which the
 * session tells whenever the peer is heard).
 * @param peerRef the peer as the access checks see it, read at each answer
 */
export function makeSessionLoop(
  host: SessionV2Host,
  s: ScopedSession & PushLinkV2,
  pacer: () => ClientPacer,
  push: SessionV2Push,
  peerRef: () => PeerRef,
  scopeId: Uint8Array,
): ScopePollLoop {
  const settings = host.settings;
  const key = scopeKey(scopeId);
  const trainBytes = (): number =>
    ((s.peerCaps ?? 0) & CAPABILITY_POLL_TRAIN) !== 0 && linkTakesTrains(s.linkName) ? settings.pollTrainBytes : 0;
  return new ScopePollLoop({
    request: (session, maxBytes) => {
      const n = s.table.theirNumber(scopeId);
      const h = host.hostOf(scopeId);
      if (n === undefined || h === undefined) return null;
      const req = h.request(s.peerId, { scope: n, session, maxBytes, compact: ((s.peerCaps ?? 0) & CAPABILITY_COMPACT_BATCH) !== 0 });
      const train = trainBytes();
      const segment = req.elide === true && settings.elideSegment > SEGMENT_BYTES ? settings.elideSegment : undefined;
      if (train === 0 && segment === undefined) return req;
      // Fields 8 and 9 need the fields before them written (an encoder stops at the first absent optional field).
      return { ...req, elide: req.elide ?? false, train_bytes: train, ...(segment === undefined ? {} : { segment }) };
    },
    send: (req) => {
      s.stats.pollsSent++;
      s.send(req);
    },
    accept: async (res) => {
      const h = host.hostOf(scopeId);
      if (h === undefined) return { orphaned: 0 };
      const r = await h.accept(peerRef(), res);
      host.accepted(s, h, r);
      return { orphaned: r.orphaned, behind: r.behind === true };
    },
    timeoutMs: (maxBytes) => settings.pollTimeoutMs + settings.pollTimeoutMsPerByte * maxBytes,
    failed: (err) => host.log.warn({ peer: s.peerId, err: String(err) }, 'a poll answer could not be taken in'),
    completed: () => push.roundCompleted(scopeId),
    timedOut: () => s.watchdog.timedOut(key),
  }, pacer(), s.pollBudget);
}
