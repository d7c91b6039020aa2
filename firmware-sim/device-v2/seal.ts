/**
 * The simulated device's sealing rules (PROTOCOL.md §7.2, §7.4), on `protocol/seal.ts` alone:
 * the policy table that decides from the peer's `Hello` whether a link is sealed, and the two
 * directions of an up, sealed session. Pure: no I/O, no timers.
 */
import { Capability, peerIdOf, type Hello } from '../../protocol/index.js';
import { Opener, SealError, Sealer, type SealKeys, type SealPolicy } from '../../protocol/seal.js';

/**
 * §7.2 for the peer's `Hello`: `true` sealed, `false` unsealed, or the refusal text for
 * `Error{SealingRequired}`. The link is sealed iff both `Hello`s carry `ephemeral` and both set
 * `Seal` (ours always carries `ephemeral`, and `Seal` unless the policy is `off`).
 */
export function negotiateSeal(policy: SealPolicy, peer: Hello): boolean | string {
  const v2 = peer.ephemeral !== undefined;
  const offers = v2 && (peer.caps & Capability.Seal) !== 0;
  const who = peerIdOf(peer.public_key);
  if (policy === 'require' && !offers) return `this link requires sealing; peer ${who} did not offer it`;
  // A legacy Hello may be a stripped one (a downgrade): only `off` links take legacy peers.
  if (policy === 'prefer' && !v2) return `this link takes no legacy peer (no ephemeral key from peer ${who}); set seal=off for it`;
  return policy !== 'off' && offers;
}

/** What opening one received sealed frame gave. */
export type Opened =
  /** A plaintext message body. */
  | { kind: 'plaintext'; body: Uint8Array }
  /** The sealed close marker (empty plaintext): the peer closed the session. */
  | { kind: 'close' }
  /** The tag did not verify (forged, altered, another key): drop, count. */
  | { kind: 'failed'; error: SealError }
  /** Seen before or below the replay window: drop, count. */
  | { kind: 'replay' };

/** Both directions of one sealed session: `seq` from 0 out, a fresh replay window in. */
export class SealedSession {
  private readonly sealer: Sealer;
  private readonly opener: Opener;

  constructor(keys: SealKeys) {
    this.sealer = new Sealer(keys.send);
    this.opener = new Opener(keys.receive);
  }

  /** Whether the next frame should wait for a fresh handshake (`seq` reached 2^31, §7.4). */
  get rekeyDue(): boolean {
    return this.sealer.rekeyDue;
  }

  /** Sequence number of the next frame sent. */
  get nextSeq(): number {
    return this.sealer.next;
  }

  /**
   * Seal one message body (empty: the close marker).
   * @throws SealError `exhausted` when the sequence numbers are used up (check {@link rekeyDue} first).
   */
  seal(plaintext: Uint8Array): Uint8Array {
    return this.sealer.seal(plaintext);
  }

  /** Open one received frame body that starts with the seal marker. Never throws a SealError. */
  open(body: Uint8Array): Opened {
    let plaintext: Uint8Array | null;
    try {
      plaintext = this.opener.open(body);
    } catch (err) {
      if (err instanceof SealError) return { kind: 'failed', error: err };
      throw err;
    }
    if (plaintext === null) return { kind: 'replay' };
    return plaintext.length === 0 ? { kind: 'close' } : { kind: 'plaintext', body: plaintext };
  }
}
