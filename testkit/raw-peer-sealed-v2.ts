/**
 * A protocol-2 peer that speaks the handshake by hand from PROTOCOL.md §7, on `protocol/` alone:
 * the sealed handshake and sealed frames, without the engine. Tests use it to send exactly what they want (floods, forgeries) as a
 * trusted peer over a real socket, and as a second implementation of the handshake. It
 * acknowledges the peer's `Scopes` (so the link is not closed for an unacknowledged one) and
 * keeps every message it receives.
 */
import { randomBytes } from 'node:crypto';
import { Capability, NONCE_BYTES } from '../protocol/constants.js';
import { PROTOCOL_VERSION_2 } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { verifySignature, type Identity } from '../protocol/keys.js';
import type { Hello, MessageV2 } from '../protocol/messages-v2.js';
import { Opener, Sealer, authTranscriptV2, deriveSealKeys, ephemeralFromSecret, isSealed } from '../protocol/seal.js';

/** One side of a hand-driven v2 link: feed it the peer's frame bodies, it returns what to send. */
export class SealedRawPeerV2 {
  /** Our exact Hello bytes (send them first). */
  readonly hello: Uint8Array;
  /** True once the peer's Auth verified. */
  up = false;
  /** Messages received after the handshake (opened when sealed). */
  readonly received: MessageV2[] = [];
  private readonly eph = ephemeralFromSecret(new Uint8Array(randomBytes(32)));
  private peerHello: Uint8Array | null = null;
  private peerKey: Uint8Array | null = null;
  private sealer: Sealer | null = null;
  private opener: Opener | null = null;

  /** @param seal announce `Seal` (the peer then seals when it may). Default true. */
  constructor(
    private readonly me: Identity,
    private readonly seal = true,
  ) {
    this.hello = encodeMessageV2({
      type: 'Hello', version: PROTOCOL_VERSION_2, public_key: me.publicKey, max_frame: 65536,
      caps: Capability.Push | Capability.BareCommand | (seal ? Capability.Seal : 0),
      nonce: new Uint8Array(randomBytes(NONCE_BYTES)), ephemeral: this.eph.publicKey,
    });
  }

  /** Encode (and seal, once up on a sealed link) a message to send. */
  frame(msg: MessageV2): Uint8Array {
    const body = encodeMessageV2(msg);
    return this.sealer === null || !this.up ? body : this.sealer.seal(body);
  }

  /** The peer's number for the first scope it opened toward us (from its `Scopes`), if any. */
  firstNumber(): number | undefined {
    for (const m of this.received) if (m.type === 'Scopes' && m.open.length > 0) return m.open[0]![0];
    return undefined;
  }

  /** Take one frame body from the peer; returns the frame bodies to send in answer. */
  receive(body: Uint8Array): Uint8Array[] {
    if (isSealed(body)) {
      if (this.opener === null || !this.up) return []; // §7.1: nothing sealed counts before up
      const plain = this.opener.open(body);
      return plain !== null && plain.length > 0 ? this.take(decodeMessageV2(plain)) : [];
    }
    const msg = decodeMessageV2(body);
    if (msg.type === 'Hello') return this.onHello(msg, body);
    if (msg.type === 'Auth' && this.peerHello !== null && this.peerKey !== null && !this.up) {
      if (verifySignature(this.peerKey, authTranscriptV2(this.hello, this.peerHello), msg.signature)) this.up = true;
      return [];
    }
    return this.up && this.opener === null ? this.take(msg) : [];
  }

  private take(msg: MessageV2): Uint8Array[] {
    this.received.push(msg);
    return msg.type === 'Scopes' ? [this.frame({ type: 'ScopesAck', seq: msg.seq, refused: [] })] : [];
  }

  private onHello(h: Hello, bytes: Uint8Array): Uint8Array[] {
    this.peerHello = Uint8Array.from(bytes);
    this.peerKey = Uint8Array.from(h.public_key);
    if (this.seal && (h.caps & Capability.Seal) !== 0) {
      const keys = deriveSealKeys(this.hello, this.peerHello, this.eph.secret, h.ephemeral);
      this.sealer = new Sealer(keys.send);
      this.opener = new Opener(keys.receive);
    }
    return [encodeMessageV2({ type: 'Auth', signature: this.me.sign(authTranscriptV2(this.peerHello, this.hello)) })];
  }
}
