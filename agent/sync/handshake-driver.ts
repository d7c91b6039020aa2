/**
 * Drives the handshakes of one link (PROTOCOL.md §7.1, §7.5): the first one with its `Hello`
 * retransmissions and 60 s deadline, then at most one re-handshake at a time beside the up
 * session — started at most once a second, answered at most 10 times a second, abandoned after
 * 60 s. The state machines themselves are {@link Handshake}s; this adds the timers and routes
 * each input to the handshake it belongs to. The session hears of results through its host hooks.
 */
import { randomBytes } from 'node:crypto';
import { Capability } from '../../protocol/constants.js';
import type { Hello } from '../../protocol/messages-v2.js';
import { peerIdOf, toHex, type Identity } from '../../protocol/keys.js';
import type { Logger } from '../node/log.js';
import type { Link } from '../link.js';
import type { PeerRejected } from './engine-events.js';
import type { EngineSettings } from './engine-settings.js';
import { Handshake, type HandshakeStep } from './handshake.js';
import { RateWindow, Repeater } from './session-timers.js';

/** Give up on a handshake not complete after this long (first: the link closes; re-handshake: abandoned). */
export const HANDSHAKE_TIMEOUT_MS = 60000;
/** At most one re-handshake started per this many ms (§7.5). */
export const REHANDSHAKE_EVERY_MS = 1000;
/** At most this many answers to peer `Hello`s on an up link per second (§7.5). */
export const HELLO_ANSWERS_PER_S = 10;

/** What the driver needs of the engine. */
export interface HandshakeEngine {
  readonly identity: Identity;
  readonly settings: EngineSettings;
  readonly log: Logger;
  /** Whether the trust rules admit a peer key (read at each `Hello`: trust may change). */
  admits(publicKey: Uint8Array): boolean;
  /** A first handshake refused the peer for trust. */
  onRejected(info: PeerRejected): void;
}

/** What the driver needs of its session. */
export interface DriverHost {
  readonly link: Link;
  readonly peerId: string;
  /** The up session is sealed (a re-handshake must then seal too). */
  readonly sealed: boolean;
  /** Send a frame body as it is (handshake frames are never sealed). */
  transmit(body: Uint8Array): void;
  /** The first handshake accepted the peer's `Hello`. */
  accepted(hs: Handshake): void;
  /** The first handshake completed: the link is up. */
  up(hs: Handshake): void;
  /** A re-handshake completed: its keys and nonces replace the session's. */
  switched(hs: Handshake): void;
  /** Count one dropped re-handshake input. */
  dropped(why: string): void;
  /** Close the link (a refused first handshake, or its deadline). */
  close(): Promise<void>;
}

/** The handshakes of one link. */
export class HandshakeDriver {
  /** The first handshake until it is up; then the one whose keys and nonces the session uses. */
  current: Handshake;
  /** A re-handshake running beside the up session, else null. */
  pending: Handshake | null = null;
  private isUp = false;
  private readonly helloRepeat: Repeater;
  private readonly pendingRepeat: Repeater;
  private firstTimer: NodeJS.Timeout | null;
  private pendingTimer: NodeJS.Timeout | null = null;
  private lastStart = -Infinity;
  private readonly answers: RateWindow;

  /**
   * @param version the protocol version spoken (default 2, see
   *   `HandshakeSetup.version`); `caps` the capability bits announced besides `Seal`
   *   (default `Push | BareCommand`).
   */
  constructor(
    private readonly engine: HandshakeEngine,
    private readonly host: DriverHost,
    private readonly options: { version?: number; caps?: number } = {},
  ) {
    const log = engine.log;
    this.answers = new RateWindow(HELLO_ANSWERS_PER_S, 1000, engine.settings.now);
    this.current = this.make();
    this.helloRepeat = new Repeater(() => this.resend(this.current));
    this.pendingRepeat = new Repeater(() => this.pending !== null && this.resend(this.pending));
    this.firstTimer = setTimeout(() => {
      log.warn({ link: host.link.description }, 'handshake timed out');
      void host.close();
    }, HANDSHAKE_TIMEOUT_MS);
    this.firstTimer.unref();
    this.helloRepeat.start();
  }

  /** The peer's `Hello` (decoded, and its exact frame body). */
  onHello(h: Hello, body: Uint8Array): void {
    if (!this.isUp) return this.apply(this.current, this.current.onHello(h, body));
    if (!this.answers.take()) return this.host.dropped('hello over its rate');
    // A repeat of the current peer Hello: our Auth was lost. Anything else re-handshakes (§7.5).
    if (this.current.isPeerHello(body)) return this.host.transmit(this.current.auth!);
    if (this.pending === null && !this.start('new peer Hello')) return;
    this.apply(this.pending!, this.pending!.onHello(h, body));
  }

  /** The peer's `Auth` signature. */
  onAuth(signature: Uint8Array): void {
    if (!this.isUp) this.apply(this.current, this.current.onAuth(signature));
    else if (this.pending !== null) this.apply(this.pending, this.pending.onAuth(signature));
    // else a repeat after authentication: changes nothing
  }

  /**
   * Start a re-handshake beside the up session (§7.5): a new `Hello`, retransmitted until it
   * completes or 60 s pass. Refused while one is pending or within a second of the last start;
   * a refused trigger is counted when `count`. Returns whether one started.
   */
  start(trigger: string, count = true): boolean {
    const e = this.engine;
    const now = e.settings.now();
    if (!this.isUp) return false; // the first handshake is still running: nothing to renew
    if (this.pending !== null || now - this.lastStart < REHANDSHAKE_EVERY_MS) {
      if (count) this.host.dropped(`${trigger}: a re-handshake is pending or was started within a second`);
      return false;
    }
    this.lastStart = now;
    this.pending = this.make({ peerKey: this.current.peer!.publicKey, sealed: this.host.sealed });
    e.log.info({ peer: this.host.peerId, link: this.host.link.description, trigger }, 're-handshake started');
    this.pendingRepeat.start();
    this.pendingTimer = setTimeout(() => {
      e.log.info({ peer: this.host.peerId, link: this.host.link.description }, 're-handshake abandoned after 60 s; the session continues');
      this.endPending();
    }, HANDSHAKE_TIMEOUT_MS);
    this.pendingTimer.unref();
    return true;
  }

  /** Stop every timer (the link closed). */
  stop(): void {
    if (this.firstTimer) clearTimeout(this.firstTimer);
    this.firstTimer = null;
    this.helloRepeat.stop();
    this.endPending();
  }

  private make(current?: { peerKey: Uint8Array; sealed: boolean }): Handshake {
    const e = this.engine;
    return new Handshake({
      identity: e.identity,
      maxFrame: e.settings.maxFrame,
      caps: this.options.caps ?? Capability.Push | Capability.BareCommand,
      policy: this.host.link.sealPolicy ?? 'require',
      admits: (key) => e.admits(key),
      randomBytes: (n) => new Uint8Array(randomBytes(n)),
      current,
      ...(this.options.version === undefined ? {} : { version: this.options.version }),
    });
  }

  private resend(hs: Handshake): void {
    for (const f of hs.retransmit()) this.host.transmit(f);
  }

  private apply(hs: Handshake, step: HandshakeStep): void {
    for (const f of step.send) this.host.transmit(f);
    if (step.dropped !== null && hs === this.pending) this.host.dropped(step.dropped);
    if (step.refuse !== null) {
      const r = step.refuse;
      // The full key and the link: an operator adding a device to the trust list needs both.
      const info = { publicKey: toHex(r.publicKey), peerId: peerIdOf(r.publicKey), link: this.host.link.description, reason: r.cause };
      this.engine.log.warn({ peer: info.peerId, publicKey: info.publicKey, link: info.link, reason: r.reason }, r.log);
      if (r.cause === 'untrusted') this.engine.onRejected(info);
      void this.host.close();
      return;
    }
    if (hs === this.current && !this.isUp && hs.peer !== null) this.host.accepted(hs);
    if (!step.up) return;
    // The peer may not have our Auth yet (lost): a last copy costs 70 bytes and saves a retry.
    this.host.transmit(hs.auth!);
    if (hs === this.current) {
      this.isUp = true;
      this.stop();
      this.host.up(hs);
    } else {
      this.endPending();
      this.current = hs;
      this.host.switched(hs);
    }
  }

  private endPending(): void {
    this.pendingRepeat.stop();
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    this.pendingTimer = null;
    this.pending = null;
  }
}
