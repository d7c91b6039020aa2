/** Test helpers: engines on memory stores wired by memory links, with fast pacing. */
import { Engine, type EngineOptions } from '../../agent/sync/engine.js';
import { MemoryStore } from '../../agent/store/memory-store.js';
import { createMemoryLinkPair, type MemoryLinkFaults } from '../../agent/memory-link.js';
import type { Link } from '../../agent/link.js';
import { generateIdentity, toHex, type Identity } from '../../protocol/keys.js';
import type { PeerSession } from '../../agent/sync/peer-session.js';
import { randomBytes } from 'node:crypto';
import { Capability } from '../../protocol/constants.js';
import { decodeMessage, encodeMessage } from '../../protocol/envelope.js';
import type { Message } from '../../protocol/messages.js';
import { Opener, Sealer, authTranscriptV2, deriveSealKeys, ephemeralFromSecret, isSealed, type SealPolicy } from '../../protocol/seal.js';

/** Fast pacing so property runs converge in well under a second of wall time. */
export const FAST: Partial<EngineOptions> = {
  pollTimeoutMs: 150,
  // Memory links never come back once closed; lossy property runs must not close them.
  deadAfterTimeouts: 0,
  pollTimeoutMsPerByte: 0,
  pollHint: { minMs: 20, maxMs: 80 },
  subscribedPollS: 0.15,
  backoff: { baseMs: 20, capMs: 200, floorMs: 5, jitter: 0.2 },
  pollBucket: { capacity: 1000, perSecond: 1000 },
};

export function makeEngines(n: number, extra: Partial<EngineOptions> = {}): Engine[] {
  const ids: Identity[] = Array.from({ length: n }, () => generateIdentity());
  const keys = ids.map((i) => i.publicKey);
  return ids.map((identity) => new Engine({ identity, store: new MemoryStore(), trust: { mode: 'list', keys }, ...FAST, ...extra }));
}

/** Link `a` and `b` by a memory link pair: the links, then the two sessions (A's, B's). */
export function connect(a: Engine, b: Engine, faults: MemoryLinkFaults = {}): [Link, Link, PeerSession, PeerSession] {
  const [la, lb] = createMemoryLinkPair(faults);
  return [la, lb, a.attach(la), b.attach(lb)];
}

/** Sorted hex ids of every command in a store. */
export function graphOf(e: Engine): string[] {
  const out: string[] = [];
  for (let h = 0; h < e.store.size; h++) out.push(toHex(e.store.idOf(h)));
  return out.sort();
}

/** Wait until every engine holds the same graph, or the deadline passes. Returns whether they converged. */
export async function converge(engines: Engine[], timeoutMs = 8000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sizes = engines.map((e) => e.store.size);
    if (sizes.every((s) => s === sizes[0])) {
      const g = graphOf(engines[0]!).join();
      if (engines.every((e) => graphOf(e).join() === g)) return true;
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

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

/** Direction of a frame through a {@link WireTap}: sent by A (to B) or by B (to A). */
export type TapDir = 'ab' | 'ba';

/**
 * A man in the middle between two links: every frame passes `filter`, which may pass it (return
 * it), alter it (return other bytes) or drop it (null); `inject` delivers any bytes; `seen`
 * records every frame as sent. Closing one side closes the other unless `propagateClose` is off.
 */
export class WireTap {
  /** Attach engine A here. */
  readonly a: Link;
  /** Attach engine B here. */
  readonly b: Link;
  readonly seen: { dir: TapDir; body: Uint8Array }[] = [];
  filter: (dir: TapDir, body: Uint8Array) => Uint8Array | null = (_dir, body) => body;
  private readonly toA: Link;
  private readonly toB: Link;

  constructor(seal: { a?: SealPolicy; b?: SealPolicy } = {}, propagateClose = true) {
    const [a, ta] = createMemoryLinkPair({ seal: seal.a ?? 'require' }, {});
    const [b, tb] = createMemoryLinkPair({ seal: seal.b ?? 'require' }, {});
    this.a = a;
    this.b = b;
    this.toA = ta;
    this.toB = tb;
    ta.on('frame', (body) => this.pass('ab', body));
    tb.on('frame', (body) => this.pass('ba', body));
    if (propagateClose) {
      ta.once('close', () => void tb.close());
      tb.once('close', () => void ta.close());
    }
  }

  /** Deliver `body` as if sent in direction `dir` (to B for 'ab'). */
  inject(dir: TapDir, body: Uint8Array): void {
    (dir === 'ab' ? this.toB : this.toA).send(body);
  }

  /** Frames seen in `dir`. */
  frames(dir: TapDir): Uint8Array[] {
    return this.seen.filter((f) => f.dir === dir).map((f) => f.body);
  }

  private pass(dir: TapDir, body: Uint8Array): void {
    this.seen.push({ dir, body });
    const out = this.filter(dir, body);
    if (out !== null) this.inject(dir, out);
  }
}
