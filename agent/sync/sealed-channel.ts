/**
 * The sealed channel of an up link (PROTOCOL.md §7.4, §7.5): the current send key with its
 * sequence number, the current receive key with its replay window, and — for 10 s after a
 * re-handshake switched keys — the previous receive key, so frames the peer sealed before it
 * switched still open. Pure apart from the clock it is given.
 */
import { ReplayWindow, SEAL_REKEY_AT, SealError, Sealer, openFrame, type SealKeys } from '../../protocol/seal.js';

/** How long the previous receive key still opens frames after a switch (§7.5). */
export const PREVIOUS_KEY_MS = 10_000;

/** What {@link SealedChannel.open} made of a sealed frame body. */
export type Opened =
  /** A message's plaintext (not empty). */
  | { kind: 'message'; plaintext: Uint8Array }
  /** The sealed close marker: the peer closed the link. */
  | { kind: 'close' }
  /** Genuine, but its sequence number was opened before or is too old for the window. */
  | { kind: 'replay' }
  /** Did not open under any receive key (forged, altered, truncated, or another key). */
  | { kind: 'failure'; error: SealError };

/**
 * One receive direction: the key and its window. Unlike `Opener` (which consults the window
 * first), the tag is checked first so that a forged frame is told from a replayed one in the
 * counters; the window is still moved only by frames that opened.
 */
class Receiver {
  private readonly window = new ReplayWindow();
  constructor(private readonly key: Uint8Array) {}

  open(body: Uint8Array): Opened {
    let opened: { seq: number; plaintext: Uint8Array };
    try {
      opened = openFrame(this.key, body);
    } catch (err) {
      if (err instanceof SealError) return { kind: 'failure', error: err };
      throw err;
    }
    if (!this.window.accept(opened.seq)) return { kind: 'replay' };
    return opened.plaintext.length === 0 ? { kind: 'close' } : { kind: 'message', plaintext: opened.plaintext };
  }
}

/** Send and receive state of a sealed link. */
export class SealedChannel {
  private sealer: Sealer;
  private receiver: Receiver;
  private previous: Receiver | null = null;
  private previousUntil = 0;

  /**
   * @param keys the keys of the completed handshake.
   * @param rekeyAt the sequence number at which a re-handshake is due (default 2^31; tests lower it).
   * @param now the clock, ms (the engine's).
   */
  constructor(
    keys: SealKeys,
    private readonly rekeyAt: number = SEAL_REKEY_AT,
    private readonly now: () => number = Date.now,
  ) {
    this.sealer = new Sealer(keys.send);
    this.receiver = new Receiver(keys.receive);
  }

  /** Whether the sender should start a re-handshake (its next sequence number reached `rekeyAt`). */
  get rekeyDue(): boolean {
    return this.sealer.next >= this.rekeyAt;
  }

  /** Sequence number of the next frame sealed. */
  get nextSeq(): number {
    return this.sealer.next;
  }

  /**
   * Seal one message (an empty plaintext is the close marker).
   * @throws SealError `exhausted` once every sequence number under this key was used.
   */
  seal(plaintext: Uint8Array): Uint8Array {
    return this.sealer.seal(plaintext);
  }

  /** Open a sealed body: with the current key, else with the previous one while it is kept. */
  open(body: Uint8Array): Opened {
    const r = this.receiver.open(body);
    if (r.kind !== 'failure' || this.previous === null) return r;
    if (this.now() >= this.previousUntil) {
      this.previous = null;
      return r;
    }
    const old = this.previous.open(body);
    return old.kind === 'failure' ? r : old;
  }

  /** A re-handshake completed: new keys (sequence numbers from 0); the old receive key stays 10 s. */
  rekey(keys: SealKeys): void {
    this.previous = this.receiver;
    this.previousUntil = this.now() + PREVIOUS_KEY_MS;
    this.sealer = new Sealer(keys.send);
    this.receiver = new Receiver(keys.receive);
  }
}
