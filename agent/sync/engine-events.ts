// What the v2 engine's events carry: refused peers, trust changes, poll answers taken in.

/** What a `peer-rejected` event tells: a first handshake was refused because the key is not trusted. */
export interface PeerRejected {
  /** The refused peer's public key, 64 lowercase hex characters. */
  publicKey: string;
  peerId: string;
  /** Description of the link it came over. */
  link: string;
  /** Why: `'untrusted'`. */
  reason: string;
}

/** What a trust change (`setTrust`) did. */
export interface TrustChange {
  /** Trusted keys that were not before. */
  added: number;
  /** Keys no longer trusted. */
  removed: number;
  /** Links closed because their peer's key is no longer trusted. */
  closed: number;
}

/**
 * What a v2 engine's `poll-answer` event tells: a peer's `PollResponse` for one scope was taken in
 * (its commands are in the scope's store; retention has run). Emitted for every poll answer the
 * scope host accepted, not for pushes, a refused answer, or a join refused by its first answer.
 * A bootstrap reporter follows `more` and `total` (agent/cli/bootstrap-progress.ts).
 */
export interface PollAnswered {
  /** The answering peer's id (16 hex). */
  peer: string;
  /** The scope's name, as status shows it. */
  scope: string;
  /** The scope id, 64 hex. */
  scopeId: string;
  /** The answer's `total`: the commands the peer retains in the scope (PROTOCOL.md §10). */
  total: number;
  /** The answer's `more`: the peer has more for this host; false ends the poll round. */
  more: boolean;
  /** Commands this answer appended here (released orphans included). */
  commands: number;
  /** Their encoded bytes, as stored. */
  bytes: number;
}
