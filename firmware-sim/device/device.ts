/**
 * A simulated constrained device: a second, minimal implementation of wire protocol v1 built on
 * `protocol/` alone, written the way firmware would be — fixed buffers (a ring of the last N
 * commands, a key table), no growth, no graph walk — and sealing its links (§7.2–§7.4, policy
 * `seal`, default `prefer`). It announces only `Capability.BareCommand` (it takes no
 * subscriptions), answers `PollRequest`s from its ring, subscribes to (or polls) its peer,
 * commits telemetry, and counts the orders addressed to it.
 *
 * It speaks in frame bodies through a {@link DeviceLink} (device-link.ts), so it runs over a
 * serial port (`attachDeviceToSerialPort` owns COBS/CRC and the ARQ) or directly against another
 * device. This file is orchestration: connection.ts runs the session layer (handshake, sealing,
 * `Hello` retries) and hands over ups, downs and the messages to act on, which go to sync.ts
 * (subscribe, poll), poll.ts (answers from the ring) and intake.ts (received commands).
 */
import { EventEmitter } from 'node:events';
import { type Command, type Identity, type Message, type PollRequest, type SealPolicy } from '../../protocol/index.js';
import { errorMessage } from '../../protocol/error-message.js';
import { DeviceConnection } from './connection.js';
import type { DeviceEnd, DeviceLink } from '../wiring/device-link.js';
import type { HandshakeState } from './handshake.js';
import { DeviceIntake } from './intake.js';
import { DeviceKeyTable } from './keys.js';
import { resolveDeviceOptions } from './options.js';
import { RingResponder } from './poll.js';
import { OwnChain } from './own-chain.js';
import { CommandRing } from './ring.js';
import { DeviceSession } from './session.js';
import { DeviceSync } from './sync.js';
import { Telemetry } from './telemetry.js';
import { zeroDeviceStats, type DeviceEvents, type DeviceOptions, type DeviceStats } from './types.js';

/** The simulated device. */
export class SimDevice extends EventEmitter<DeviceEvents> implements DeviceEnd {
  /** The device's key pair. */
  readonly identity: Identity;
  /** 16-hex-character peer id (the first element of telemetry payloads and of orders to it). */
  readonly peerId: string;
  /** The command ring (read it; the device writes it). */
  readonly ring: CommandRing;
  /** Largest frame body accepted. */
  readonly maxFrame: number;
  /** Telemetry period, ms. */
  readonly telemetryMs: number;
  /** Counters. */
  readonly stats: DeviceStats = zeroDeviceStats();
  /** Sealing policy of the device's link. */
  readonly seal: SealPolicy;
  /** Subscription and poll state of the current session. */
  readonly sync: DeviceSync;
  private readonly responder: RingResponder;
  private readonly intake: DeviceIntake;
  private readonly keys: DeviceKeyTable;
  private readonly session: DeviceSession;
  private readonly connection: DeviceConnection;
  private readonly telemetry: Telemetry;
  private readonly trustAny: boolean;
  private readonly own: OwnChain;
  private halted = false;

  /** @throws RangeError on a bad `ringSize`, `maxFrame`, `telemetryMs`, `pollMs`, `handshakeRetryMs` or `seal`. */
  constructor(options: DeviceOptions = {}) {
    super();
    const o = resolveDeviceOptions(options);
    this.identity = o.identity;
    this.peerId = this.identity.peerId;
    this.ring = new CommandRing(o.ringSize);
    this.responder = new RingResponder(this.ring);
    this.own = new OwnChain(this.ring, this.identity, this.stats);
    this.maxFrame = o.maxFrame;
    this.telemetryMs = o.telemetryMs;
    this.trustAny = o.trustAny;
    this.keys = new DeviceKeyTable(o.trustedKeys);
    this.seal = o.seal;
    const admits = (k: Uint8Array): boolean => this.trustAny || this.keys.isTrusted(k);
    const session = (this.session = new DeviceSession(this.identity, this.maxFrame, admits, this.stats, { policy: o.seal, random: o.random }));
    this.connection = new DeviceConnection(session, this.maxFrame, o.handshakeRetryMs, this.stats, {
      up: (peerKey, peerCaps) => this.sessionUp(peerKey, peerCaps),
      down: () => this.sessionDown(),
      message: (msg) => this.onMessage(msg),
      badFrame: (err) => this.badFrame(err),
    });
    this.telemetry = new Telemetry(this.peerId, this.telemetryMs, o.readSensor, (payload) => void this.commit(payload));
    const onOrder = options.onOrder;
    this.intake = new DeviceIntake(this.ring, this.keys, this.identity, this.stats, {
      command: (cmd) => this.emit('command', cmd),
      order: (payload, cmd) => {
        this.emit('order', payload, cmd);
        onOrder?.(payload, cmd);
      },
      rejected: (reason, detail) => this.emit('rejected', reason, detail),
    });
    const host = {
      send: (msg: Message) => this.connection.send(msg),
      head: () => this.ring.newestId(),
      has: (id: Uint8Array) => this.ring.has(id),
      sample: (max: number) => this.ring.sample(max),
      // A sealed answer must fit the device's frame buffer: ask for its limit less the overhead.
      get maxFrame() {
        return session.receiveLimit;
      },
    };
    this.sync = new DeviceSync(host, o.subscribe, o.pollMs);
  }

  /** Handshake state of the current link. */
  get state(): HandshakeState {
    return this.session.state;
  }

  /** Whether the session is up and sealed. */
  get sealed(): boolean {
    return this.session.sealed;
  }

  /** The newest command held (own or received), a copy, or null. */
  get head(): Uint8Array | null {
    return this.ring.newestId();
  }

  /** The link opened: the session starts over, and `Hello` goes out (repeated until up). */
  connect(link: DeviceLink): void {
    this.disconnect();
    this.connection.connect(link);
  }

  /**
   * The link closed: forget the session (the ring and telemetry carry on). Idempotent. A sealed
   * session sends its close marker first (§7.6), in case the link still carries it.
   */
  disconnect(): void {
    this.connection.disconnect();
    this.sync.stop();
  }

  /** One received frame body. Never throws; a body over {@link maxFrame} is a bad frame. */
  onBody(body: Uint8Array): void {
    this.connection.receive(body);
  }

  /** A link frame was lost below the device (CRC, COBS, size: its carrier decoded it). */
  linkError(err: Error): void {
    this.badFrame(err);
  }

  /** Start committing telemetry every `telemetryMs` (and resume link timers after {@link stop}). */
  start(): void {
    const resume = this.halted;
    this.halted = false;
    this.telemetry.start();
    if (!resume) return;
    if (this.session.state === 'up') this.sync.start(this.session.handshake.peerCaps);
    this.connection.resume();
  }

  /** Stop every timer (telemetry, subscription renewal, polling, handshake retry). The link stays. */
  stop(): void {
    this.halted = true;
    this.telemetry.stop();
    this.sync.stop();
    this.connection.pause();
  }

  /**
   * Commit one own command, on the newest command held (own-chain.ts), and emit `commit`.
   * @throws DeviceRingFullError when every ring slot holds an own command no peer holds yet: a
   * device with a bounded memory refuses new data rather than lose data it already accepted.
   * @throws TooLargeError when the command would exceed MAX_COMMAND_BYTES.
   */
  commit(payload: Uint8Array): Command {
    const cmd = this.own.commit(payload);
    this.emit('commit', cmd);
    return cmd;
  }

  /** A message from the peer: an `Error` in any state, anything else once the session is up. */
  private onMessage(msg: Message): void {
    switch (msg.type) {
      case 'Error':
        this.stats.errorsIn++;
        this.emit('peer-error', msg);
        if (this.session.state === 'up') this.sync.onError(msg);
        return;
      case 'PollRequest':
        return this.answer(msg);
      case 'PollResponse':
        if (!this.sync.expects(msg)) return; // stale (§8.2): not the poll in flight
        // The uplink holds its heads, and so their ancestors: own commands among them may now be
        // overwritten, and commits resume on a ring that was full (the intake does the same with
        // the parents of each command it receives).
        this.ring.markHeldWithAncestors(msg.heads);
        this.intake.ingest(msg.commands, false);
        return this.sync.onPollResponse(msg);
      case 'Push':
        if (this.intake.ingest(msg.commands, true)) this.sync.pollNow();
        return this.sync.onPush(msg);
      case 'SubscribeAck':
        return this.sync.onSubscribeAck(msg);
      case 'Subscribe':
        // No subscription table on a device (it does not announce Push): send the peer to polling.
        return this.connection.send(errorMessage('MaximumSubscriptionsExceeded', 'device takes no subscriptions; poll it', this.telemetryMs));
      case 'Keys':
        if (this.trustAny) for (const k of msg.keys) this.keys.learn(k);
        return;
      default:
        return; // Unsubscribe: there is nothing to close.
    }
  }

  private sessionDown(): void {
    this.sync.stop();
    this.emit('down');
  }

  private sessionUp(peerKey: Uint8Array, peerCaps: number): void {
    if (this.trustAny) this.keys.learn(peerKey);
    this.emit('ready', Uint8Array.from(peerKey));
    if (!this.halted) this.sync.start(peerCaps);
  }

  private answer(req: PollRequest): void {
    // The device's frame buffers are maxFrame bytes, for what it sends as for what it receives;
    // on a sealed link the message is that less the seal overhead (max_bytes counts plaintext).
    const reply = this.responder.respond(req, Math.min(req.max_bytes, this.session.sendLimit, this.session.receiveLimit), this.telemetryMs);
    if (reply.type === 'PollResponse') this.stats.pollsAnswered++;
    this.connection.send(reply);
  }

  private badFrame(err: Error): void {
    this.stats.badFrames++;
    this.emit('bad-frame', err);
  }
}

/** Create a {@link SimDevice}. */
export function createDevice(options: DeviceOptions = {}): SimDevice {
  return new SimDevice(options);
}
