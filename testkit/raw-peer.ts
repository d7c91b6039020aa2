/**
 * A peer that speaks the protocol by hand from PROTOCOL.md §7, on `protocol/` alone: the sealed
 * handshake and sealed frames, without the engine. Tests use it to send exactly what they want
 * (floods, forgeries) as a trusted peer, and as a second implementation of the handshake.
 */
import { randomBytes } from 'node:crypto';
import { Capability, NONCE_BYTES, PROTOCOL_VERSION } from '../protocol/constants.js';
import { decodeMessage, encodeMessage } from '../protocol/envelope.js';
import type { Identity } from '../protocol/keys.js';
import { verifySignature } from '../protocol/keys.js';
import type { Hello, Message } from '../protocol/messages.js';
import { Opener, Sealer, authTranscriptV2, deriveSealKeys, ephemeralFromSecret, isSealed } from '../protocol/seal.js';

/** One side of a hand-driven link: feed it the peer's frame bodies, it returns what to send. */
export class RawPeer {
  /** Our exact Hello bytes (send them first). */
  readonly hello: Uint8Array;
  /** True once the peer's Auth verified. */
  up = false;
  /** Messages received after the handshake (opened when sealed). */
  readonly received: Message[] = [];
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
    this.hello = encodeMessage({
      type: 'Hello', version: PROTOCOL_VERSION, public_key: me.publicKey, max_frame: 65536,
      caps: Capability.Push | Capability.BareCommand | (seal ? Capability.Seal : 0),
      nonce: new Uint8Array(randomBytes(NONCE_BYTES)), ephemeral: this.eph.publicKey,
    });
  }

  /** Encode (and seal, once up on a sealed link) a message to send. */
  frame(msg: Message): Uint8Array {
    const body = encodeMessage(msg);
    return this.sealer === null || !this.up ? body : this.sealer.seal(body);
  }

  /** Take one frame body from the peer; returns the frame bodies to send in answer. */
  receive(body: Uint8Array): Uint8Array[] {
    if (isSealed(body)) {
      if (this.opener === null || !this.up) return []; // §7.1: nothing sealed counts before up
      const plain = this.opener.open(body);
      if (plain !== null && plain.length > 0) this.received.push(decodeMessage(plain));
      return [];
    }
    const msg = decodeMessage(body);
    if (msg.type === 'Hello') return this.onHello(msg, body);
    if (msg.type === 'Auth' && this.peerHello !== null && this.peerKey !== null && !this.up) {
      if (verifySignature(this.peerKey, authTranscriptV2(this.hello, this.peerHello), msg.signature)) this.up = true;
      return [];
    }
    if (this.up && this.opener === null) this.received.push(msg);
    return [];
  }

  private onHello(h: Hello, bytes: Uint8Array): Uint8Array[] {
    if (h.ephemeral === undefined) throw new Error('raw peer: the peer sent a legacy Hello');
    this.peerHello = Uint8Array.from(bytes);
    this.peerKey = Uint8Array.from(h.public_key);
    if (this.seal && (h.caps & Capability.Seal) !== 0) {
      const keys = deriveSealKeys(this.hello, this.peerHello, this.eph.secret, h.ephemeral);
      this.sealer = new Sealer(keys.send);
      this.opener = new Opener(keys.receive);
    }
    return [encodeMessage({ type: 'Auth', signature: this.me.sign(authTranscriptV2(this.peerHello, this.hello)) })];
  }
}
