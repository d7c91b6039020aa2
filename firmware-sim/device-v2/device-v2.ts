/**
 * The simulated device speaking protocol v2 (design v2-scopes §7), beside the v1 device until
 * the flag day: built on `protocol/` alone (and the version-independent sealing of
 * firmware-sim/device/seal.ts), every table allocated at construction. This file is
 * orchestration: connection-v2.ts (session layer, `Hello` retries), scope-table-v2.ts (`Scopes`),
 * scope-v2.ts (rings, membership, horizon, acceptance), responder-v2.ts (answers), poller-v2.ts
 * (polls, subscriptions). Slot 0 holds `device/<own peer id>` (ring `ringSizes.device`), slots
 * 1–3 the scopes of `joinScopes` (ring `ringSizes.other`).
 */
import { EventEmitter } from 'node:events';
import type { ArqScheduler } from '../../protocol/arq/driver.js';
import { decodeCbor, encodeCbor } from '../../protocol/cbor.js';
import type { CommandV2 } from '../../protocol/command-v2.js';
import { MIN_POLL_BYTES } from '../../protocol/constants.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { ReasonCode, type ReasonName } from '../../protocol/errors.js';
import { generateIdentity, identityFromSecret, type Identity } from '../../protocol/keys.js';
import type { ErrorMessage, MessageV2, PollRequest } from '../../protocol/messages-v2.js';
import { ConnectionV2 } from './connection-v2.js';
import { ScopePoller } from './poller-v2.js';
import { ResponderV2 } from './responder-v2.js';
import { ScopeTableV2 } from './scope-table-v2.js';
import { DeviceScope } from './scope-v2.js';
import { sameId } from './scope-ring-v2.js';
import { SessionV2 } from './session-v2.js';
import {
  DEFAULT_DEVICE_RING, DEFAULT_OTHER_RING, MAX_DEVICE_SCOPES, zeroStatsV2,
  type DeviceLinkV2, type DeviceV2Events, type DeviceV2Options, type DeviceV2Stats,
} from './types-v2.js';

/** Node's clock and timers, unref'd: a device never keeps the process alive. */
const nodeScheduler: ArqScheduler = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** The v2 simulated device. */
export class SimDeviceV2 extends EventEmitter<DeviceV2Events> {
  readonly identity: Identity;
  /** 16-hex peer id: the device scope is `device/<peerId>`. */
  readonly peerId: string;
  readonly stats: DeviceV2Stats = zeroStatsV2();
  /** Scope slots (read them; the device writes them). */
  readonly scopes: DeviceScope[] = [];
  readonly maxFrame: number;
  readonly telemetryMs: number;
  readonly table: ScopeTableV2;
  private readonly pollers: ScopePoller[] = [];
  private readonly session: SessionV2;
  private readonly connection: ConnectionV2;
  private readonly responder: ResponderV2;
  private readonly scheduler: ArqScheduler;
  private readonly trusted: Uint8Array[];
  private readonly joinScopes: string[];
  private readonly readSensor: (n: number) => number;
  private peerKey: Uint8Array | null = null;
  private unknownScopes = 0;
  private counter = 0;
  private cancelTelemetry: (() => void) | null = null;

  constructor(o: DeviceV2Options = {}) {
    super();
    this.identity = o.identity ?? (o.secretKey ? identityFromSecret(o.secretKey) : generateIdentity());
    this.peerId = this.identity.peerId;
    this.maxFrame = o.maxFrame ?? 2048;
    this.telemetryMs = o.telemetryMs ?? 1000;
    this.scheduler = o.scheduler ?? nodeScheduler;
    this.trusted = (o.trustedKeys ?? []).map((k) => Uint8Array.from(k));
    this.joinScopes = o.joinScopes ?? [];
    this.readSensor = o.readSensor ?? ((n) => 2000 + Math.round(300 * Math.sin(n / 10)));
    const rings = [o.ringSizes?.device ?? DEFAULT_DEVICE_RING, o.ringSizes?.other ?? DEFAULT_OTHER_RING];
    this.table = new ScopeTableV2({
      send: (m) => this.connection.send(m),
      giveUp: () => this.connection.close(),
      admit: (id, name) => this.admit(id, name),
      peerClosed: (slot) => slot !== null && this.pollers[slot]!.stop(),
      activated: (slot) => {
        this.emit('active', this.scopes[slot]!.name);
        this.pollers[slot]!.start();
      },
    }, this.scheduler, this.stats);
    const session = (this.session = new SessionV2(this.identity, this.maxFrame, (k) => this.trusted.some((t) => sameId(t, k)), this.stats, { policy: o.seal, random: o.random }));
    const pollHost = {
      send: (m: MessageV2) => this.connection.send(m),
      peerNumber: (slot: number) => this.table.peerNumber(slot),
      get maxBytes() {
        return session.receiveLimit;
      },
      get peerCaps() {
        return session.handshake.peerCaps;
      },
      ingest: (slot: number, bytes: Uint8Array) => this.ingest(slot, bytes),
      gap: (slot: number) => this.emit('gap', this.scopes[slot]!.name),
    };
    for (let s = 0; s < MAX_DEVICE_SCOPES; s++) {
      this.scopes.push(new DeviceScope(s, rings[s === 0 ? 0 : 1]!, this.identity));
      this.pollers.push(new ScopePoller(this.scopes[s]!, pollHost, this.scheduler, this.stats, o.pollMs ?? 0));
    }
    this.responder = new ResponderV2(Math.max(...rings));
    this.connection = new ConnectionV2(session, this.maxFrame, 2000, this.scheduler, this.stats, {
      up: (key) => this.up(key),
      down: () => this.down(),
      message: (m) => this.onMessage(m),
      badFrame: (err) => {
        this.stats.badFrames++;
        this.emit('bad-frame', err);
      },
    });
  }

  /** Handshake state. */
  get state(): string {
    return this.session.handshake.state;
  }

  /** The device scope slot. */
  get deviceScope(): DeviceScope {
    return this.scopes[0]!;
  }

  /** The link opened: the session starts over. */
  connect(link: DeviceLinkV2): void {
    this.connection.connect(link);
  }

  /** The link closed. Idempotent. */
  disconnect(): void {
    this.connection.disconnect();
  }

  /** One received frame body. Never throws. */
  onBody(body: Uint8Array): void {
    this.connection.receive(body);
  }

  /** Commit telemetry every `telemetryMs`. */
  start(): void {
    if (this.cancelTelemetry !== null) return;
    const tick = (): void => {
      this.sample();
      this.cancelTelemetry = this.scheduler.setTimer(tick, this.telemetryMs);
    };
    this.cancelTelemetry = this.scheduler.setTimer(tick, this.telemetryMs);
  }

  /** Stop telemetry. */
  stop(): void {
    this.cancelTelemetry?.();
    this.cancelTelemetry = null;
  }

  /** Take one telemetry sample now: `[peerId, counter, reading]` committed to the device scope. */
  sample(): CommandV2 | null {
    this.counter++;
    let reading = 0;
    try {
      reading = Math.trunc(this.readSensor(this.counter));
    } catch {
      // A failing sensor still yields a sample (0).
    }
    return this.commit(encodeCbor([this.peerId, this.counter, Number.isSafeInteger(reading) ? reading : 0]));
  }

  /**
   * Commit an own data command to the device scope (§7 item 9). Null, counted in
   * `commitsRefused`, when the device holds no device scope yet, lacks W, or its ring is full of
   * own commands no peer holds.
   */
  commit(payload: Uint8Array): CommandV2 | null {
    const s = this.deviceScope;
    const r = s.commit(payload);
    if (r === 'overflow') this.overflow(0);
    if (typeof r === 'string') {
      this.stats.commitsRefused++;
      return null;
    }
    this.stats.commits++;
    this.emit('commit', s.name, r);
    return r;
  }

  private up(key: Uint8Array): void {
    this.peerKey = key;
    this.table.reset();
    this.emit('ready', Uint8Array.from(key));
    this.table.batch(() => {
      for (const s of this.scopes) if (s.state === 'held' && s.grants(key)) this.table.open(s.slot, s.id, s.name);
    });
  }

  private down(): void {
    this.table.reset();
    for (const p of this.pollers) p.stop();
    // A scope joined on this link that never got its genesis holds nothing: give the slot back.
    for (const s of this.scopes) if (s.state === 'joining') s.free();
    this.peerKey = null;
    this.emit('down');
  }

  private onMessage(msg: MessageV2): void {
    switch (msg.type) {
      case 'Error':
        this.stats.errorsIn++;
        this.emit('peer-error', msg);
        return;
      case 'Scopes':
        return this.table.onScopes(msg);
      case 'ScopesAck':
        return this.table.onScopesAck(msg);
      case 'PollRequest':
        return this.answer(msg);
      case 'Subscribe': {
        const slot = this.table.slotOf(msg.scope);
        const n = slot === null ? null : this.table.peerNumber(slot, true);
        if (slot === null || n === null) return this.unknownScope(msg.scope);
        // No subscription table on a device: send the peer to polling (§7 item 8).
        return this.refuse('MaximumSubscriptionsExceeded', 'device takes no subscriptions; poll it', n, this.telemetryMs);
      }
      case 'PollResponse':
      case 'Push':
      case 'SubscribeAck': {
        const slot = this.table.slotOf(msg.scope);
        if (slot === null || !this.table.isActive(slot)) {
          this.stats.unknownScope++; // dropped, never answered (§3.10)
          return;
        }
        const p = this.pollers[slot]!;
        if (msg.type === 'PollResponse') p.onResponse(msg);
        else if (msg.type === 'Push') p.onPush(msg);
        else p.onSubscribeAck(msg);
        return;
      }
      default:
        return; // Unsubscribe: nothing to close; Hello/Auth never reach here
    }
  }

  private answer(req: PollRequest): void {
    const slot = this.table.slotOf(req.scope);
    const n = slot === null ? null : this.table.peerNumber(slot, true);
    if (slot === null || n === null) return this.unknownScope(req.scope);
    const s = this.scopes[slot]!;
    if (this.peerKey === null || !s.grants(this.peerKey)) {
      this.refuse('NotAMember', 'not a member of this scope', n);
      return this.closeToward(slot);
    }
    if (req.max_bytes < MIN_POLL_BYTES) return this.refuse('Malformed', `max_bytes ${req.max_bytes} is below the minimum ${MIN_POLL_BYTES}`, n);
    const limit = Math.min(req.max_bytes, this.session.sendLimit, this.session.receiveLimit);
    this.stats.pollsAnswered++;
    this.connection.send(this.responder.answer(s, req, n, limit, this.telemetryMs));
  }

  /** §3.10: at most one `Error{UnknownScope}` per 16 such messages, naming the number as received. */
  private unknownScope(number: number): void {
    this.stats.unknownScope++;
    if (this.unknownScopes++ % 16 === 0) this.refuse('UnknownScope', `scope ${number} is not open on this link`, number);
  }

  private refuse(reason: ReasonName, text: string, scope: number, retry: number | null = null): void {
    const err: ErrorMessage = { type: 'Error', code: ReasonCode[reason], message: text, retry_after_ms: retry, scope };
    this.connection.send(err);
  }

  private admit(id: Uint8Array, name: string): { slot: number } | { refuse: number } {
    const held = this.scopes.find((s) => s.state !== 'free' && sameId(s.id, id));
    if (held !== undefined) return this.peerKey !== null && held.grants(this.peerKey) ? { slot: held.slot } : { refuse: ReasonCode.NotAMember };
    const own = name === `device/${this.peerId}`;
    if (!own && !this.joinScopes.includes(name)) return { refuse: ReasonCode.ScopeDeclined };
    // one scope per name; a second `device/<id>` is declined.
    if (this.scopes.some((s) => s.state !== 'free' && s.name === name)) return { refuse: ReasonCode.ScopeDeclined };
    const slot = own ? this.scopes[0] : this.scopes.find((s) => s.slot > 0 && s.state === 'free');
    if (slot === undefined || slot.state !== 'free') return { refuse: ReasonCode.TooManyScopes };
    slot.begin(id, name);
    return { slot: slot.slot };
  }

  /** Offer one received command to the scope in `slot`; true when it was an orphan. */
  private ingest(slot: number, bytes: Uint8Array): boolean {
    const s = this.scopes[slot]!;
    const r = s.accept(bytes);
    this.stats.adopted += s.adopted;
    this.stats.horizonDropped += s.horizonDrops;
    s.adopted = s.horizonDrops = 0;
    switch (r.kind) {
      case 'stored': {
        this.stats.commandsReceived++;
        this.emit('command', s.name, r.cmd);
        if (r.cmd.kind === CommandKind.Membership && this.peerKey !== null && !s.grants(this.peerKey)) this.closeToward(slot);
        if (slot === 0 && r.cmd.kind === CommandKind.Data && !sameId(r.cmd.author, this.identity.author) && this.isOrder(r.cmd.payload)) {
          this.stats.orders++;
          this.emit('order', r.cmd.payload, r.cmd);
        }
        return false;
      }
      case 'duplicate':
        this.stats.duplicates++;
        return false;
      case 'orphan':
        this.stats.orphans++;
        return true;
      case 'full':
        this.stats.ringRefused++;
        return false;
      case 'rejected':
        this.stats.rejectedCommands++;
        this.emit('rejected', s.name, r.reason, r.detail);
        return false;
      case 'overflow':
        this.overflow(slot);
        return false;
      case 'join-rejected':
        this.stats.scopeJoinsRejected++;
        this.drop(slot);
        return false;
    }
  }

  private isOrder(payload: Uint8Array): boolean {
    try {
      const v = decodeCbor(payload);
      return Array.isArray(v) && v[0] === this.peerId;
    } catch {
      return false;
    }
  }

  private overflow(slot: number): void {
    this.stats.scopeOverflow++;
    this.drop(slot);
  }

  /** Stop syncing the scope in `slot` with the peer (its grant ended); the device keeps it. */
  private closeToward(slot: number): void {
    this.table.close(slot);
    this.pollers[slot]!.stop();
  }

  /** Drop the scope in `slot` and close it toward the peer. */
  private drop(slot: number): void {
    this.closeToward(slot);
    this.scopes[slot]!.free();
  }
}

/** Create a {@link SimDeviceV2}. */
export function createDeviceV2(options: DeviceV2Options = {}): SimDeviceV2 {
  return new SimDeviceV2(options);
}
