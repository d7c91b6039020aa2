/**
 * One link handshake (PROTOCOL.md §7.1–§7.3, §7.5) as a pure state machine: our `Hello` (fresh
 * nonce and X25519 ephemeral key), the peer's `Hello` checked (version, trust, sealing policy,
 * key schedule), `Auth` over the transcript of both `Hello`s, and the peer's `Auth` verified. No timers, no I/O, no engine: identity, policy, the trust
 * check and randomness come in; each input returns a {@link HandshakeStep} saying what to send and
 * whether the handshake is up or refused. The session drives retransmissions and deadlines.
 *
 * The first handshake of a link refuses a bad peer (an `Error`, then the session closes the link).
 * A re-handshake beside an up session (§7.5) never refuses: whatever fails only drops that input.
 */
import { Capability, MIN_FRAME_BYTES, NONCE_BYTES } from '../../protocol/constants.js';
import { PROTOCOL_VERSION_2 } from '../../protocol/constants-v2.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { equalBytes } from '../../protocol/bytes.js';
import { compareBytes } from '../../protocol/command.js';
import { peerIdOf, toHex, verifySignature } from '../../protocol/keys.js';
import type { Hello } from '../../protocol/messages-v2.js';
import { refusal, refusalOf, type HandshakeDrop, type Refusal } from './handshake-refusal.js';
import type { HandshakeSetup, HandshakeState, HandshakeStep, PeerHello } from './handshake-types.js';
import { SealError, authTranscriptV2, deriveSealKeys, ephemeralFromSecret, type SealKeys } from '../../protocol/seal.js';

export type { HandshakeDrop, Refusal } from './handshake-refusal.js';
export type { HandshakeSetup, HandshakeState, HandshakeStep, PeerHello } from './handshake-types.js';

const step = (send: Uint8Array[] = [], up = false): HandshakeStep => ({ send, up, refuse: null, dropped: null });
const drop = (why: HandshakeDrop): HandshakeStep => ({ send: [], up: false, refuse: null, dropped: why });

/** One handshake: the first of a link, or a re-handshake beside its up session. */
export class Handshake {
  state: HandshakeState = 'hello-sent';
  /** The peer's accepted `Hello`, else null. */
  peer: PeerHello | null = null;
  /** Our nonce (fresh per handshake). */
  readonly nonce: Uint8Array;
  /** Our `Hello` frame body, encoded once (the transcript covers these exact bytes). */
  readonly hello: Uint8Array;
  /** Our `Auth` frame body for the accepted peer `Hello`, else null. */
  auth: Uint8Array | null = null;
  /** Keys of the link once the peer `Hello` is accepted and the link will be sealed, else null. */
  keys: SealKeys | null = null;
  private readonly secret: Uint8Array;
  /** An `Auth` not verified yet: early (before the peer `Hello`) or not matching the last one. */
  private unverified: Uint8Array | null = null;

  constructor(private readonly setup: HandshakeSetup) {
    this.nonce = setup.randomBytes(NONCE_BYTES);
    this.secret = setup.randomBytes(32);
    const seal = setup.policy === 'off' ? 0 : Capability.Seal;
    this.hello = encodeMessageV2({
      type: 'Hello',
      version: setup.version ?? PROTOCOL_VERSION_2,
      public_key: setup.identity.publicKey,
      max_frame: setup.maxFrame,
      caps: setup.caps | seal,
      nonce: this.nonce,
      ephemeral: ephemeralFromSecret(this.secret).publicKey,
    });
  }

  /** Whether this is a re-handshake (failures drop, never refuse). */
  get rehandshake(): boolean {
    return this.setup.current !== undefined;
  }

  /** Whether the link is (or, once up, will be) sealed: true once the accepted peer `Hello` seals. */
  get sealed(): boolean {
    return this.keys !== null;
  }

  /**
   * The same value at both ends of the link: the two nonces, the smaller first (PROTOCOL.md §7.1,
   * one link per peer). Empty before the peer's `Hello`.
   */
  get linkKey(): string {
    if (this.peer === null) return '';
    const [a, b] = compareBytes(this.nonce, this.peer.nonce) <= 0 ? [this.nonce, this.peer.nonce] : [this.peer.nonce, this.nonce];
    return toHex(a) + toHex(b);
  }

  /** Whether `bytes` is the accepted peer `Hello` (a repeat: the peer lacks our `Auth`). */
  isPeerHello(bytes: Uint8Array): boolean {
    return this.peer !== null && equalBytes(bytes, this.peer.bytes);
  }

  /** What a retransmission sends: our `Hello`, and our `Auth` once made (either may be lost). */
  retransmit(): Uint8Array[] {
    return this.auth === null ? [this.hello] : [this.hello, this.auth];
  }

  /** The peer's `Hello` (decoded, and its exact frame body). */
  onHello(h: Hello, bytes: Uint8Array): HandshakeStep {
    if (this.state === 'up' || this.state === 'refused') return this.isPeerHello(bytes) && this.auth ? step([this.auth]) : drop('late');
    if (this.isPeerHello(bytes)) return step([this.auth!]);
    const replacing = this.peer !== null;
    const failure = this.check(h);
    if (failure !== null) return this.fail(failure, h);
    const sealed = this.setup.policy !== 'off' && (h.caps & Capability.Seal) !== 0;
    if (this.setup.current?.sealed === true && !sealed) return this.fail('downgrade', h);
    let keys: SealKeys | null = null;
    if (sealed) {
      try {
        keys = deriveSealKeys(this.hello, bytes, this.secret, h.ephemeral);
      } catch (err) {
        if (!(err instanceof SealError)) throw err;
        return this.fail(err.failure === 'reflected' ? 'reflected' : 'weak-key', h);
      }
    }
    const me = this.setup.identity;
    this.peer = {
      publicKey: Uint8Array.from(h.public_key),
      id: peerIdOf(h.public_key),
      maxFrame: Math.max(MIN_FRAME_BYTES, h.max_frame),
      caps: h.caps,
      nonce: Uint8Array.from(h.nonce),
      bytes: Uint8Array.from(bytes),
    };
    this.keys = keys;
    this.auth = encodeMessageV2({ type: 'Auth', signature: me.sign(authTranscriptV2(bytes, this.hello)) });
    this.state = 'auth-sent';
    // A replaced peer Hello means the peer restarted before the link came up: it lacks our Hello.
    const out = step(replacing && !this.rehandshake ? [this.auth, this.hello] : [this.auth]);
    const early = this.unverified;
    this.unverified = null;
    if (early !== null) {
      const r = this.onAuth(early);
      out.send.push(...r.send);
      out.up = r.up;
      out.refuse = r.refuse;
    }
    return out;
  }

  /** The peer's `Auth` signature. */
  onAuth(signature: Uint8Array): HandshakeStep {
    if (this.state === 'up' || this.state === 'refused') return drop('late');
    if (this.peer === null) {
      // Frames may be reordered: keep it until the Hello it answers arrives.
      this.unverified = Uint8Array.from(signature);
      return step();
    }
    const p = this.peer;
    if (!verifySignature(p.publicKey, authTranscriptV2(this.hello, p.bytes), signature)) {
      if (this.rehandshake) {
        // It may answer a peer Hello still on its way (a forged one was accepted first).
        this.unverified = Uint8Array.from(signature);
        return drop('bad-auth');
      }
      return this.refuse(refusal('bad-auth', p.publicKey, 'Unauthorized', 'bad authentication signature', `peer ${p.id} failed authentication`));
    }
    this.state = 'up';
    // Forward secrecy (§7.3): the ephemeral secret is never needed again once up.
    this.secret.fill(0);
    return step([], true);
  }

  /** The first failing check of step 2 (§7.1) before any key work, else null. */
  private check(h: Hello): HandshakeDrop | null {
    if (h.version !== (this.setup.version ?? PROTOCOL_VERSION_2)) return 'version';
    if (!this.setup.admits(h.public_key)) return 'untrusted';
    const cur = this.setup.current;
    if (cur !== undefined && !equalBytes(h.public_key, cur.peerKey)) return 'other-key';
    // Our own Hello sent back would authenticate us to ourselves (both transcripts match).
    if (equalBytes(h.public_key, this.setup.identity.publicKey) && equalBytes(h.nonce, this.nonce)) return 'reflected';
    if (this.setup.policy === 'require' && (h.caps & Capability.Seal) === 0) return 'sealing';
    return null;
  }

  private fail(why: HandshakeDrop, h: Hello): HandshakeStep {
    if (this.rehandshake) return drop(why);
    return this.refuse(refusalOf(why, h, this.setup.version));
  }

  private refuse(r: Refusal): HandshakeStep {
    this.state = 'refused';
    return { send: [r.error], up: false, refuse: r, dropped: null };
  }
}
