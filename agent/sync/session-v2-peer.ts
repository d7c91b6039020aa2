/**
 * The peer of a v2 session as its accepted `Hello` describes it (protocol-v2.md §7): id, key,
 * caps, and the key fingerprint the push table is keyed by (§11.1). {@link SessionV2} extends
 * this; the handshake callbacks set {@link SessionV2Peer.peer}.
 */
import { fingerprint } from '../../protocol/command.js';
import { Capability } from '../../protocol/constants.js';
import { CAPABILITY_COMPACT_BATCH } from '../../protocol/constants-v2.js';
import type { PeerHello } from './handshake.js';

/** What a session knows of its peer; everything is empty or null before the peer's `Hello`. */
export class SessionV2Peer {
  /** Cached fingerprint of the peer's key; reset when a new `Hello` is accepted. */
  protected fp: Uint8Array | null = null;
  /** The peer as its accepted `Hello` describes it, else null. */
  peer: PeerHello | null = null;

  /** The peer's id ('' before its `Hello` was accepted). */
  get peerId(): string {
    return this.peer?.id ?? '';
  }

  /** The peer's key, null before its `Hello` was accepted. */
  get peerKey(): Uint8Array | null {
    return this.peer?.publicKey ?? null;
  }

  /** The peer's `Hello.caps`, null before its `Hello` was accepted. */
  get peerCaps(): number | null {
    return this.peer?.caps ?? null;
  }

  /** {@link PushLinkV2}: the peer's key fingerprint (empty before its `Hello`). */
  get fingerprint(): Uint8Array {
    const key = this.peerKey;
    if (key === null) return new Uint8Array(8);
    return (this.fp ??= fingerprint(key));
  }

  /** {@link PushLinkV2}: the peer announced `BareCommand`. */
  get acceptsBare(): boolean {
    return ((this.peer?.caps ?? 0) & Capability.BareCommand) !== 0;
  }

  /** {@link PushLinkV2}: the peer announced `CompactBatch` (it takes `Push.batch`). */
  get acceptsBatch(): boolean {
    return ((this.peer?.caps ?? 0) & CAPABILITY_COMPACT_BATCH) !== 0;
  }
}
