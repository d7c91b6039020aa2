/**
 * The {@link RequesterHost} of one session: the requester's view of its link and of the engine,
 * built once per session from the two (no back-pointer to either reaches the requester).
 */
import { Capability } from '../../protocol/constants.js';
import type { Message } from '../../protocol/messages.js';
import { SEAL_OVERHEAD } from '../../protocol/seal.js';
import type { RequesterHost } from './requester-host.js';
import type { HostedSession, SessionHost } from './session-host.js';

/** What the adapter reads of the session. */
export interface RequesterSession extends HostedSession {
  readonly link: { readonly description: string; readonly maxFrame: number };
  readonly sealed: boolean;
  readonly peer: { readonly caps: number } | null;
  readonly frameArrivedAt: number;
  sendFrame(body: Uint8Array): void;
  send(msg: Message): void;
}

/** The requester host of session `s` on engine `host`. */
export function sessionRequesterHost(s: RequesterSession, host: SessionHost): RequesterHost {
  return {
    store: host.store,
    settings: host.settings,
    log: host.log,
    get peerId() {
      return s.peerId;
    },
    get linkDescription() {
      return s.link.description;
    },
    get answerRoom() {
      // An answer must fit our frame limit once sealed: the budget counts message bytes (§7.1).
      return Math.min(host.settings.maxFrame, s.link.maxFrame) - (s.sealed ? SEAL_OVERHEAD : 0);
    },
    get peerPushes() {
      return ((s.peer?.caps ?? 0) & Capability.Push) !== 0;
    },
    get frameArrivedAt() {
      return s.frameArrivedAt;
    },
    sendFrame: (body) => s.sendFrame(body),
    send: (msg) => s.send(msg),
    close: () => s.close(),
    ingest: (encoded, how) => host.ingest(encoded, s.peerId, how),
    upstreams: () => host.upstreams().filter((id) => id !== s.peerId),
    upstreamsChanged: () => host.upstreamsChanged(s),
    pollAnswered: (answer) => host.pollAnswered(s.peerId, answer),
    applied: (arrivedAt) => host.applied(arrivedAt),
  };
}
