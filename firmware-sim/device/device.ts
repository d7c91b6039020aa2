/**
 * A simulated constrained device: a second, minimal implementation of wire protocol v1 built on
 * `protocol/` alone, written the way firmware would be — fixed buffers (frame decoder, a ring of
 * the last N commands, a key table), no growth, no graph walk. It seals its links (§7.2–§7.4,
 * policy `seal`, default `prefer`) with `protocol/seal.ts` as firmware would with its own crypto
 * library; see session.ts for what travels sealed. It speaks over any byte stream:
 * {@link SimDevice.connect} gives it a write function when the link opens, and
 * {@link SimDevice.onBytes} feeds it what arrives, so it runs over the simulated serial port
 * ({@link attachDeviceToSerialPort}), a socat PTY, or directly against another device.
 *
 * It announces only `Capability.BareCommand` (it takes no subscriptions), answers `PollRequest`s
 * from its ring, subscribes to (or polls) its peer, commits telemetry, and counts the orders
 * addressed to it.
 */
import { EventEmitter } from 'node:events';
import {
  MAX_FRAME_BYTES, MIN_FRAME_BYTES, MIN_POLL_BYTES, SEAL_POLICIES, SerialFrameDecoder,
  encodeCbor, encodeCommand, encodeSerialFrame, generateIdentity, identityFromSecret,
  type Command, type Identity, type Message, type PollRequest, type SealPolicy,
} from '../../protocol/index.js';
import { DeviceIntake } from './intake.js';
import { DeviceKeyTable } from './keys.js';
import { RingResponder } from './poll.js';
import { CommandRing, DEFAULT_RING_SIZE, DeviceRingFullError } from './ring.js';
import { DeviceSession } from './session.js';
import { type HandshakeState, type HandshakeStep } from './handshake.js';
import { errorMessage } from '../../protocol/error-message.js';
import { DeviceSync } from './sync.js';
import {
  DEFAULT_DEVICE_MAX_FRAME, DEFAULT_HANDSHAKE_RETRY_MS, DEFAULT_TELEMETRY_MS,
  type DeviceEvents, type DeviceOptions, type DeviceStats,
} from './types.js';

const LINK_OPEN = Uint8Array.of(0);

/** The simulated device. */
export class SimDevice extends EventEmitter<DeviceEvents> {
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
  readonly stats: DeviceStats = {
    framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, badFrames: 0, commits: 0, commitsRefused: 0, commandsReceived: 0,
    orders: 0, rejectedCommands: 0, duplicates: 0, errorsIn: 0, pollsAnswered: 0,
    sealFailures: 0, replays: 0, unsealedDropped: 0, rehandshakes: 0,
  };
  /** Sealing policy of the device's link. */
  readonly seal: SealPolicy;
  /** Subscription and poll state of the current session. */
  readonly sync: DeviceSync;
  private readonly responder: RingResponder;
  private readonly intake: DeviceIntake;
  private readonly keys: DeviceKeyTable;
  private readonly session: DeviceSession;
  private readonly decoder: SerialFrameDecoder;
  private readonly trustAny: boolean;
  private readonly readSensor: (counter: number) => number;
  private readonly retryBaseMs: number;
  private writer: ((bytes: Uint8Array) => void) | null = null;
  private telemetryTimer: NodeJS.Timeout | null = null;
  private helloTimer: NodeJS.Timeout | null = null;
  private retryMs: number;
  private halted = false;
  private seq = 0;
  private counter = 0;

  /** @throws RangeError on a bad `ringSize`, `maxFrame`, `telemetryMs` or `pollMs`. */
  constructor(options: DeviceOptions = {}) {
    super();
    this.identity = options.identity ?? (options.secretKey ? identityFromSecret(options.secretKey) : generateIdentity());
    this.peerId = this.identity.peerId;
    this.ring = new CommandRing(options.ringSize ?? DEFAULT_RING_SIZE);
    this.responder = new RingResponder(this.ring);
    this.maxFrame = options.maxFrame ?? DEFAULT_DEVICE_MAX_FRAME;
    if (!Number.isInteger(this.maxFrame) || this.maxFrame < MIN_FRAME_BYTES || this.maxFrame > MAX_FRAME_BYTES) {
      throw new RangeError(`maxFrame must be an integer in ${MIN_FRAME_BYTES}..${MAX_FRAME_BYTES}: ${this.maxFrame}`);
    }
    this.telemetryMs = positive('telemetryMs', options.telemetryMs ?? DEFAULT_TELEMETRY_MS);
    const pollMs = options.pollMs ?? 0;
    if (pollMs !== 0) positive('pollMs', pollMs);
    this.retryBaseMs = this.retryMs = positive('handshakeRetryMs', options.handshakeRetryMs ?? DEFAULT_HANDSHAKE_RETRY_MS);
    this.trustAny = options.trustAny ?? false;
    this.keys = new DeviceKeyTable(options.trustedKeys ?? []);
    this.seal = options.seal ?? 'prefer';
    if (!SEAL_POLICIES.includes(this.seal)) throw new RangeError(`seal must be one of ${SEAL_POLICIES.join(', ')}: ${String(this.seal)}`);
    const admits = (k: Uint8Array): boolean => this.trustAny || this.keys.isTrusted(k);
    this.session = new DeviceSession(this.identity, this.maxFrame, admits, this.stats, { policy: this.seal, random: options.random });
    this.decoder = new SerialFrameDecoder(this.maxFrame);
    this.readSensor = options.readSensor ?? ((n) => 2000 + Math.round(300 * Math.sin(n / 10)));
    const onOrder = options.onOrder;
    this.intake = new DeviceIntake(this.ring, this.keys, this.identity, this.stats, {
      command: (cmd) => this.emit('command', cmd),
      order: (payload, cmd) => {
        this.emit('order', payload, cmd);
        onOrder?.(payload, cmd);
      },
      rejected: (reason, detail) => this.emit('rejected', reason, detail),
    });
    const session = this.session;
    this.sync = new DeviceSync(
      {
        send: (msg) => this.send(msg),
        head: () => this.ring.newestId(),
        has: (id) => this.ring.has(id),
        sample: (max) => this.ring.sample(max),
        // A sealed answer must fit the device's frame buffer: ask for its limit less the overhead.
        get maxFrame() {
          return session.receiveLimit;
        },
      },
      options.subscribe ?? true,
      pollMs,
    );
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

  /** The link opened: reset the session, send a lone 0x00 (ends any partial frame) and `Hello`. */
  connect(write: (bytes: Uint8Array) => void): void {
    this.disconnect();
    this.writer = write;
    this.writeRaw(LINK_OPEN);
    this.retryMs = this.retryBaseMs;
    this.writeBody(this.session.open());
    this.armHelloRetry();
  }

  /**
   * The link closed: forget the session (the ring and telemetry carry on). Idempotent. A sealed
   * session sends its close marker first (§7.6), in case the link still carries it.
   */
  disconnect(): void {
    const wasUp = this.session.state === 'up';
    const marker = this.session.closeMarker();
    if (marker !== null) this.writeBody(marker);
    this.writer = null;
    this.session.close();
    this.decoder.reset();
    this.sync.stop();
    this.clearHelloRetry();
    if (wasUp) this.emit('down');
  }

  /** Feed received bytes, in any chunking. Never throws. */
  onBytes(chunk: Uint8Array): void {
    this.stats.bytesIn += chunk.length;
    const { frames, errors } = this.decoder.push(chunk);
    for (const err of errors) this.badFrame(err);
    for (const body of frames) {
      this.stats.framesIn++;
      try {
        this.onFrame(body);
      } catch (err) {
        // A bug must not take the device down with it; the frame is lost, the link stays.
        this.badFrame(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** A link frame was lost below the device (CRC, COBS, size: the serial wiring decoded it). */
  linkError(err: Error): void {
    this.badFrame(err);
  }

  /** Start committing telemetry every `telemetryMs` (and resume link timers after {@link stop}). */
  start(): void {
    const resume = this.halted;
    this.halted = false;
    if (this.telemetryTimer === null) {
      this.telemetryTimer = setInterval(() => this.telemetry(), this.telemetryMs);
      this.telemetryTimer.unref();
    }
    if (resume && this.session.state === 'up') this.sync.start(this.session.handshake.peerCaps);
    else if (resume && this.writer !== null) this.armHelloRetry();
  }

  /** Stop every timer (telemetry, subscription renewal, polling, handshake retry). The link stays. */
  stop(): void {
    this.halted = true;
    if (this.telemetryTimer !== null) clearInterval(this.telemetryTimer);
    this.telemetryTimer = null;
    this.sync.stop();
    this.clearHelloRetry();
  }

  /**
   * Commit one own command: parent = the newest command in the ring (own or received), next
   * seq, signed, stored in the ring. Own commands form a chain, so the uplink naming the newest
   * one it holds tells the device it holds every earlier one too.
   * @throws DeviceRingFullError when every ring slot holds an own command no peer holds yet: a
   * device with a bounded memory refuses new data rather than lose data it already accepted.
   * @throws TooLargeError when the command would exceed MAX_COMMAND_BYTES.
   */
  commit(payload: Uint8Array): Command {
    if (this.ring.fullOfUnsynced) {
      this.stats.commitsRefused++;
      throw new DeviceRingFullError(this.ring.capacity);
    }
    const head = this.ring.newestId();
    const cmd = encodeCommand(
      { parents: head === null ? [] : [head], author: this.identity.author, seq: (this.seq + 1) >>> 0, payload: Uint8Array.from(payload) },
      this.identity.sign,
    );
    this.seq = cmd.seq;
    this.ring.push(cmd.id, cmd.bytes);
    this.stats.commits++;
    this.emit('commit', cmd);
    return cmd;
  }

  private telemetry(): void {
    this.counter++;
    let reading = 0;
    try {
      reading = this.readSensor(this.counter);
    } catch {
      // A failing sensor still produces a sample (0); the timer must not throw.
    }
    // The protocol's CBOR has no floats: keep readings integral.
    if (!Number.isSafeInteger(reading)) reading = Number.isFinite(reading) ? Math.trunc(reading) : 0;
    try {
      this.commit(encodeCbor([this.peerId, this.counter, reading]));
    } catch (err) {
      // The sample is dropped at the source (counted in stats.commitsRefused); the timer goes on.
      if (!(err instanceof DeviceRingFullError)) throw err;
    }
  }

  private onFrame(body: Uint8Array): void {
    const input = this.session.receive(body);
    switch (input.kind) {
      case 'dropped':
        return;
      case 'malformed':
        this.badFrame(input.error);
        if (input.answer) this.send(errorMessage('Malformed', input.error.message.slice(0, 200)));
        return;
      case 'closed':
        // The peer ended the sealed session (§7.6): not answered; our fresh Hello waits for it.
        this.sessionDown();
        this.retryMs = this.retryBaseMs;
        this.armHelloRetry();
        return;
      case 'handshake':
        this.onHandshake(input.step, input.down);
        return;
      default:
        break;
    }
    const msg = input.msg;
    if (msg.type === 'Error') {
      this.stats.errorsIn++;
      this.emit('peer-error', msg);
      if (this.session.state === 'up') this.sync.onError(msg);
      return;
    }
    // Before the peer proved its key, nothing else is heeded (PROTOCOL.md §7).
    if (this.session.state !== 'up') {
      this.send(errorMessage('Unauthorized', 'authenticate first'));
      return;
    }
    switch (msg.type) {
      case 'PollRequest':
        this.answer(msg);
        return;
      case 'PollResponse':
        if (!this.sync.expects(msg)) return; // stale (§8.2): not the poll in flight
        // The uplink holds its heads, and so their ancestors: own commands among them may now be
        // overwritten, and commits resume on a ring that was full (the intake does the same with
        // the parents of each command it receives).
        this.ring.markHeldWithAncestors(msg.heads);
        this.intake.ingest(msg.commands, false);
        this.sync.onPollResponse(msg);
        return;
      case 'Push':
        if (this.intake.ingest(msg.commands, true)) this.sync.pollNow();
        this.sync.onPush(msg);
        return;
      case 'SubscribeAck':
        this.sync.onSubscribeAck(msg);
        return;
      case 'Subscribe':
        // No subscription table on a device (it does not announce Push): send the peer to polling.
        this.send(errorMessage('MaximumSubscriptionsExceeded', 'device takes no subscriptions; poll it', this.telemetryMs));
        return;
      case 'Keys':
        if (this.trustAny) for (const k of msg.keys) this.keys.learn(k);
        return;
      default:
        return; // Unsubscribe: there is nothing to close.
    }
  }

  private onHandshake(step: HandshakeStep, down: boolean): void {
    if (down) this.sessionDown();
    for (const o of step.send) this.writeBody(o.body);
    const s = this.session.state;
    if (step.up) this.sessionUp();
    else if (s === 'refused') this.clearHelloRetry();
    else if (s === 'hello-sent' && step.send.some((o) => o.type === 'Hello')) this.armHelloRetry();
  }

  private sessionDown(): void {
    this.sync.stop();
    this.emit('down');
  }

  private sessionUp(): void {
    this.clearHelloRetry();
    this.retryMs = this.retryBaseMs;
    const peerKey = this.session.handshake.peerKey!;
    if (this.trustAny) this.keys.learn(peerKey);
    this.emit('ready', Uint8Array.from(peerKey));
    if (!this.halted) this.sync.start(this.session.handshake.peerCaps);
  }

  private answer(req: PollRequest): void {
    if (req.max_bytes < MIN_POLL_BYTES) {
      this.send(errorMessage('Malformed', `max_bytes ${req.max_bytes} is below the minimum ${MIN_POLL_BYTES}`));
      return;
    }
    // The device's frame buffers are maxFrame bytes, for what it sends as for what it receives;
    // on a sealed link the message is that less the seal overhead (max_bytes counts plaintext).
    const limit = Math.min(req.max_bytes, this.session.sendLimit, this.session.receiveLimit);
    this.stats.pollsAnswered++;
    this.send(this.responder.answer(req, limit, this.telemetryMs));
  }

  private badFrame(err: Error): void {
    this.stats.badFrames++;
    this.emit('bad-frame', err);
  }

  /** Send one message: sealed on a sealed session; never more than the peer said it takes. */
  private send(msg: Message): void {
    if (this.writer === null) return;
    if (this.session.rekeyDue) {
      // 2^31 frames under one key (§7.4): start over with fresh keys; this message is lost, and
      // the sync protocol repairs that.
      this.sessionDown();
      this.writeBody(this.session.restart());
      this.retryMs = this.retryBaseMs;
      this.armHelloRetry();
      return;
    }
    const body = this.session.encode(msg);
    if (body !== null) this.writeBody(body);
  }

  private writeBody(body: Uint8Array): void {
    if (this.writer === null) return;
    this.stats.framesOut++;
    this.writeRaw(encodeSerialFrame(body));
  }

  private writeRaw(bytes: Uint8Array): void {
    if (this.writer === null) return;
    this.stats.bytesOut += bytes.length;
    try {
      this.writer(bytes);
    } catch {
      // The link failed under us; its owner reports that and calls disconnect().
    }
  }

  /** Repeat `Hello` (same nonce) until the session is up: the first may have hit a closed port. */
  private armHelloRetry(): void {
    this.clearHelloRetry();
    if (this.halted || this.writer === null) return;
    const delay = this.retryMs * (1 + Math.random() / 4);
    this.helloTimer = setTimeout(() => {
      this.helloTimer = null;
      const s = this.session.state;
      if (this.writer === null || s === 'up' || s === 'refused') return;
      this.retryMs = Math.min(this.retryMs * 2, 30_000);
      this.writeBody(this.session.handshake.hello());
      this.armHelloRetry();
    }, delay);
    this.helloTimer.unref();
  }

  private clearHelloRetry(): void {
    if (this.helloTimer !== null) clearTimeout(this.helloTimer);
    this.helloTimer = null;
  }
}

/** Create a {@link SimDevice}. */
export function createDevice(options: DeviceOptions = {}): SimDevice {
  return new SimDevice(options);
}

function positive(name: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`${name} must be a positive number: ${v}`);
  return v;
}
