/** What the engine tells about refused peers and trust changes (both engines' events carry these). */
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
