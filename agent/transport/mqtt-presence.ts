/**
 * What an MQTT dialer does when its remote's presence topic says `online`. Presence is a hint,
 * never a gate: anyone able to publish on `<prefix>/<remote>/presence` can forge it, so it may
 * only hurry things along, never cut a link the session still trusts.
 *
 * - No link, or one whose peer has not authenticated: a live or retained `online` replaces it
 *   (a fresh `Hello` goes out now), unless the current one was made less than
 *   {@link KICK_AFTER_MS} ago (its `Hello` is on its way and retransmitted).
 * - An authenticated, unsealed link: a live `online` replaces it. The remote publishes `online`
 *   on every broker (re)connect, and its transport closed every link when its connection
 *   dropped, so our link is dead at the far end although nothing told us (its close marker could
 *   not be sent). A retained `online` is only the broker's memory and is ignored.
 * - An authenticated, sealed link: a live `online` asks the session for a re-handshake on the
 *   same link (`rehandshake` event, at most once per second): a real restart of the remote is
 *   repaired without tearing the link down, and a forged `online` costs one `Hello`. A retained
 *   one is ignored.
 * - `offline` (live or retained) is always ignored.
 */

/** Retained presence payload while connected. */
export const ONLINE = Buffer.from('online');
/** Retained presence payload after a clean close; also the last will. */
export const OFFLINE = Buffer.from('offline');
/** A dial link unauthenticated this long is replaced when the remote announces `online`. */
export const KICK_AFTER_MS = 1000;

/** What to do about one `online`. */
export type PresenceAction =
  /** Leave the link alone. */
  | 'ignore'
  /** Close the current dial link (if any) and open a new one now. */
  | 'replace'
  /** Emit `rehandshake` on the current link (rate-limited by the link). */
  | 'rehandshake';

/** The dial link as the presence rule sees it. */
export interface DialLinkView {
  /** The peer proved its key on this link. */
  authenticated: boolean;
  /** The session sealed this link (`markSealed`). */
  sealed: boolean;
}

/**
 * The action for an `online` on the remote's presence topic.
 * @param link the current dial link, or undefined when there is none.
 * @param live false when the broker delivered it as a retained message (on subscribe).
 * @param sinceLinkMs time since the last dial link was created.
 */
export function onlineAction(link: DialLinkView | undefined, live: boolean, sinceLinkMs: number): PresenceAction {
  if (link !== undefined && link.authenticated) {
    if (!live) return 'ignore';
    return link.sealed ? 'rehandshake' : 'replace';
  }
  return sinceLinkMs < KICK_AFTER_MS ? 'ignore' : 'replace';
}
