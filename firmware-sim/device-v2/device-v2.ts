/**
 * The simulated device speaking protocol v2 (design v2-scopes §7), beside the v1 device until
 * the flag day: built on `protocol/` alone (and the version-independent sealing of
 * firmware-sim/device/seal.ts), every table allocated at construction. This file is
 * orchestration and the public surface: connection-v2.ts (session layer, `Hello` retries),
 * scope-table-v2.ts (`Scopes`) with admission-v2.ts (which scopes it joins), router-v2.ts
 * (messages once up, answers via responder-v2.ts), intake-v2.ts (received commands),
 * scope-v2.ts (rings, membership, horizon, acceptance), poller-v2.ts (polls, subscribing),
 * subscriptions-v2.ts (subscriptions the device takes, and its pushes).
 * Slot 0 holds `device/<own peer id>` (ring `ringSizes.device`), slots 1–3 the scopes of
 * `joinScopes` (ring `ringSizes.other`).
 */
import { EventEmitter } from 'node:events';
import type { ArqScheduler } from '../../protocol/arq/driver.js';
import type { CommandV2 } from '../../protocol/command-v2.js';
import { generateIdentity, identityFromSecret, type Identity } from '../../protocol/keys.js';
import type { MessageV2 } from '../../protocol/messages-v2.js';
import { admitScope } from './admission-v2.js';
import { ConnectionV2 } from './connection-v2.js';
import type { DeviceHostV2 } from './device-host-v2.js';
import { MessageRouterV2 } from './router-v2.js';
import { ingestCommand } from './intake-v2.js';
import { ScopePoller } from './poller-v2.js';
import { ScopeTableV2 } from './scope-table-v2.js';
import { DeviceScope } from './scope-v2.js';
import { sameId } from './scope-ring-v2.js';
import { nodeScheduler } from './node-scheduler.js';
import { SessionV2 } from './session-v2.js';
import { SubscriptionsV2 } from './subscriptions-v2.js';
import { TelemetryV2, defaultSensor } from './telemetry-v2.js';
import {
  DEFAULT_DEVICE_RING, DEFAULT_OTHER_RING, MAX_DEVICE_SCOPES, zeroStatsV2,
  type DeviceLinkV2, type DeviceV2Events, type DeviceV2Options, type DeviceV2Stats,
} from './types-v2.js';

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
  private readonly router: MessageRouterV2;
  private readonly scheduler: ArqScheduler;
  private readonly trusted: Uint8Array[];
  private readonly joinScopes: string[];
  private readonly telemetry: TelemetryV2;
  private peerKey: Uint8Array | null = null;
  /** Null when `acceptSubscriptions` is false. */
  private readonly subs: SubscriptionsV2 | null;

  constructor(o: DeviceV2Options = {}) {
    super();
    this.identity = o.identity ?? (o.secretKey ? identityFromSecret(o.secretKey) : generateIdentity());
    this.peerId = this.identity.peerId;
    this.maxFrame = o.maxFrame ?? 2048;
    this.telemetryMs = o.telemetryMs ?? 1000;
    this.scheduler = o.scheduler ?? nodeScheduler;
    this.trusted = (o.trustedKeys ?? []).map((k) => Uint8Array.from(k));
    this.joinScopes = o.joinScopes ?? [];
    this.telemetry = new TelemetryV2(this.peerId, this.telemetryMs, this.scheduler, o.readSensor ?? defaultSensor, (p) => this.commit(p));
    const rings = [o.ringSizes?.device ?? DEFAULT_DEVICE_RING, o.ringSizes?.other ?? DEFAULT_OTHER_RING];
    this.table = new ScopeTableV2({
      send: (m) => this.connection.send(m),
      giveUp: () => this.connection.close(),
      admit: (id, name) => admitScope({ scopes: this.scopes, peerKey: this.peerKey, peerId: this.peerId, joinScopes: this.joinScopes }, id, name),
      peerClosed: (slot) => slot !== null && this.pollers[slot]!.stop(),
      activated: (slot) => {
        this.emit('active', this.scopes[slot]!.name);
        this.pollers[slot]!.start();
      },
    }, this.scheduler, this.stats);
    const host = this.host();
    const session = (this.session = new SessionV2(this.identity, this.maxFrame, (k) => this.trusted.some((t) => sameId(t, k)), this.stats, { policy: o.seal, random: o.random, push: o.acceptSubscriptions ?? true }));
    const pollHost = {
      send: (m: MessageV2) => this.connection.send(m),
      peerNumber: (slot: number) => this.table.peerNumber(slot),
      get maxBytes() {
        return session.receiveLimit;
      },
      get peerCaps() {
        return session.handshake.peerCaps;
      },
      ingest: (slot: number, bytes: Uint8Array) => ingestCommand(host, slot, bytes),
      gap: (slot: number) => this.emit('gap', this.scopes[slot]!.name),
    };
    for (let s = 0; s < MAX_DEVICE_SCOPES; s++) {
      this.scopes.push(new DeviceScope(s, rings[s === 0 ? 0 : 1]!, this.identity));
      this.pollers.push(new ScopePoller(this.scopes[s]!, pollHost, this.scheduler, this.stats, o.pollMs ?? 0));
    }
    this.router = new MessageRouterV2(host, Math.max(...rings));
    this.subs = (o.acceptSubscriptions ?? true)
      ? new SubscriptionsV2({
        now: () => this.scheduler.now(),
        send: (m) => this.connection.send(m),
        sendEncoded: (b) => this.connection.sendEncoded(b),
        peerNumber: (slot) => this.table.peerNumber(slot, true),
        get sendLimit() {
          return session.sendLimit;
        },
        get peerCaps() {
          return session.handshake.peerCaps;
        },
      }, this.router.responder, o.subscriptionSlots ?? MAX_DEVICE_SCOPES)
      : null;
    this.connection = new ConnectionV2(session, this.maxFrame, 2000, this.scheduler, this.stats, {
      up: (key) => this.up(key),
      down: () => this.down(),
      message: (m) => this.router.onMessage(m),
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

  /** Subscriptions the device holds for its peer now (0 when it takes none). */
  get subscriptionCount(): number {
    return this.subs?.count ?? 0;
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

  /**
   * A frame was lost below the device (bad COBS, CRC, size; firmware-sim/wiring's serial carrier
   * reports it): counted as a bad frame, as one that failed to decode. Never throws.
   */
  linkError(err: Error): void {
    this.stats.badFrames++;
    this.emit('bad-frame', err);
  }

  /** Commit telemetry every `telemetryMs`. */
  start(): void {
    this.telemetry.start();
  }

  /** Stop telemetry. */
  stop(): void {
    this.telemetry.stop();
  }

  /** Take one telemetry sample now: `[peerId, counter, reading]` committed to the device scope. */
  sample(): CommandV2 | null {
    return this.telemetry.sample();
  }

  /**
   * Commit an own data command to the device scope (§7 item 9). Null, counted in
   * `commitsRefused`, when the device holds no device scope yet, lacks W, or its ring is full of
   * own commands no peer holds.
   */
  commit(payload: Uint8Array): CommandV2 | null {
    const s = this.deviceScope;
    const r = s.commit(payload);
    if (r === 'overflow') {
      this.stats.scopeOverflow++;
      this.drop(0);
    }
    if (typeof r === 'string') {
      this.stats.commitsRefused++;
      return null;
    }
    this.stats.commits++;
    this.emit('commit', s.name, r);
    this.subs?.push(0, s);
    return r;
  }

  /** The device as router-v2.ts and intake-v2.ts see it (getters: the fields change). */
  private host(): DeviceHostV2 {
    const d = this; // the getters below read the device's private state as it changes
    return {
      identity: d.identity, peerId: d.peerId, stats: d.stats, scopes: d.scopes, pollers: d.pollers, events: d, telemetryMs: d.telemetryMs,
      get table() {
        return d.table;
      },
      get peerKey() {
        return d.peerKey;
      },
      get subscriptions() {
        return d.subs;
      },
      get sendLimit() {
        return d.session.sendLimit;
      },
      get receiveLimit() {
        return d.session.receiveLimit;
      },
      send: (m: MessageV2) => d.connection.send(m),
      closeToward: (slot: number) => d.closeToward(slot),
      drop: (slot: number) => d.drop(slot),
    };
  }

  private up(key: Uint8Array): void {
    this.peerKey = key;
    this.table.reset();
    this.subs?.clear();
    this.router.reset(); // §3.10 counts per link
    this.emit('ready', Uint8Array.from(key));
    this.table.batch(() => {
      for (const s of this.scopes) if (s.state === 'held' && s.grants(key)) this.table.open(s.slot, s.id, s.name);
    });
  }

  private down(): void {
    this.table.reset();
    this.subs?.clear(); // no suspension on a device (subscriptions-v2.ts)
    for (const p of this.pollers) p.stop();
    // A scope joined on this link that never got its genesis holds nothing: give the slot back.
    for (const s of this.scopes) if (s.state === 'joining') s.free();
    this.peerKey = null;
    this.emit('down');
  }

  /** Stop syncing the scope in `slot` with the peer (its grant ended); the device keeps it. */
  private closeToward(slot: number): void {
    this.subs?.end(slot);
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
