/**
 * One link per peer for v2 sessions (protocol-v2.md §7.1), as v1's engine-core does: a peer
 * already up on another link keeps the link with the smaller link key, the same one at both ends
 * (were each end to keep its newer link, each could close the one the other kept and cut the peer
 * off). A restarted peer's new link that loses the draw is closed; its dialer redials and the
 * stale link goes once its polls time out.
 */
import type { Logger } from '../node/log.js';
import type { SessionV2Like } from './session-v2-host.js';

/** The one up session of each peer, by peer id. */
export class PeerLinksV2 {
  private readonly byPeer = new Map<string, SessionV2Like>();

  constructor(private readonly log: Logger) {}

  /** `s` came up. False when the peer's other link wins the draw (`s` is being closed); else the other, if any, is. */
  up(s: SessionV2Like): boolean {
    const old = this.byPeer.get(s.peerId);
    if (old !== undefined && old !== s) {
      const [keep, drop] = old.linkKey < s.linkKey ? [old, s] : [s, old];
      this.log.info({ peer: s.peerId, kept: keep.linkName, closed: drop.linkName }, 'peer reached over two links; keeping one');
      if (keep === s) this.byPeer.set(s.peerId, s); // before the old one's close reports it down
      void drop.close();
      if (keep === old) return false;
    }
    this.byPeer.set(s.peerId, s);
    return true;
  }

  /** `s` went down: true when it was the peer's kept link (the peer has none now), false for a dropped second link. */
  down(s: SessionV2Like): boolean {
    const current = this.byPeer.get(s.peerId);
    if (current !== undefined && current !== s) return false;
    this.byPeer.delete(s.peerId);
    return true;
  }
}
