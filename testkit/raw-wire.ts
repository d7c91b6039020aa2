/**
 * The protocol end of a scripted test peer on `protocol/` alone: the test drives the link and
 * hands this object the bodies; it answers the handshake and seals and opens once keyed.
 */
import { randomBytes } from 'node:crypto';
import type { Identity } from '../protocol/keys.js';
import { Capability } from '../protocol/constants.js';
import { decodeMessage, encodeMessage } from '../protocol/envelope.js';
import type { Message } from '../protocol/messages.js';
import { Opener, Sealer, authTranscriptV2, deriveSealKeys, ephemeralFromSecret, isSealed } from '../protocol/seal.js';

/**
 * The protocol end of a scripted test peer, written on protocol/ only (not the agent's handshake
 * code): its Hello (with an ephemeral key, `Seal` unless `seal` is false), an Auth over the v2
 * transcript for each engine Hello, and, once both Hellos are known on a sealed link, sealing of
 * everything it sends and opening of everything it receives.
 */
export class RawWire {
  readonly nonce = new Uint8Array(randomBytes(16));
  readonly hello: Uint8Array;
  private readonly secret = new Uint8Array(randomBytes(32));
  private sealer: Sealer | null = null;
  private opener: Opener | null = null;
  /** The engine's Hello arrived and was answered. */
  answered = false;

  constructor(
    readonly id: Identity,
    readonly opts: { caps?: number; seal?: boolean; maxFrame?: number } = {},
  ) {
    this.hello = encodeMessage({
      type: 'Hello', version: 1, public_key: id.publicKey, max_frame: opts.maxFrame ?? 65536,
      caps: (opts.caps ?? 0) | (opts.seal === false ? 0 : Capability.Seal), nonce: this.nonce,
      ephemeral: ephemeralFromSecret(this.secret).publicKey,
    });
  }

  /** Whether frames are sealed (both Hellos known and both offer sealing). */
  get sealed(): boolean {
    return this.sealer !== null;
  }

  /**
   * A body from the engine: the message it carries (opened if sealed), or null when it did not
   * open. An engine Hello is answered through `reply` (its Auth, unsealed).
   */
  receive(body: Uint8Array, reply: (body: Uint8Array) => void): Message | null {
    let m: Message;
    if (isSealed(body)) {
      const plain = this.opener?.open(body) ?? null;
      if (plain === null || plain.length === 0) return null;
      m = decodeMessage(plain);
    } else m = decodeMessage(body);
    if (m.type === 'Hello') {
      if (this.opts.seal !== false && m.ephemeral !== undefined && (m.caps & Capability.Seal) !== 0 && this.sealer === null) {
        const keys = deriveSealKeys(this.hello, body, this.secret, m.ephemeral);
        this.sealer = new Sealer(keys.send);
        this.opener = new Opener(keys.receive);
      }
      reply(encodeMessage({ type: 'Auth', signature: this.id.sign(authTranscriptV2(body, this.hello)) }));
      this.answered = true;
    }
    return m;
  }

  /** A message as this peer sends it: sealed on a sealed link. */
  encode(m: Message): Uint8Array {
    const body = encodeMessage(m);
    return this.sealer === null ? body : this.sealer.seal(body);
  }
}
