/** The counters of one link session (`syncwire status` shows them; docs/STATUS.md documents each). */

/** Per-session counters (shown by `syncwire status`). */
export interface SessionStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  badFrames: number;
  errorsIn: number;
  pushedCommands: number;
  polledCommands: number;
  /** Messages other than Hello/Auth/Error, and sealed frames, received before the link was up. */
  droppedBeforeAuth: number;
  pollsDeferred: number;
  /** Polls replaced by a newer one from the same link before they were answered (one poll per link). */
  pollsSuperseded: number;
  /** Sealed frames that opened under no receive key (forged, altered, truncated): dropped. */
  sealFailures: number;
  /** Genuine sealed frames opened before, or too old for the replay window: dropped. */
  replays: number;
  /** Unsealed frames other than Hello and Auth on a sealed link: dropped, never answered. */
  unsealedDropped: number;
  /** Re-handshakes completed on this link (§7.5). */
  rehandshakes: number;
  /** Re-handshake inputs dropped: failed Hellos, bad Auths, triggers and answers over their rate. */
  handshakeDropped: number;
  /** Frames dropped unread: too many bytes already waited to be handled (a flood), or they still waited when the link closed. */
  intakeDropped: number;
}

/** A fresh set of counters, all zero. */
export function newSessionStats(): SessionStats {
  return {
    framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, badFrames: 0, errorsIn: 0, pushedCommands: 0, polledCommands: 0,
    droppedBeforeAuth: 0, pollsDeferred: 0, pollsSuperseded: 0, sealFailures: 0, replays: 0, unsealedDropped: 0, rehandshakes: 0, handshakeDropped: 0, intakeDropped: 0,
  };
}
