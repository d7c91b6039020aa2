/**
 * What the parts of the v2 device that act on received messages (router-v2.ts, intake-v2.ts)
 * need from the device: its slots, pollers, table, counters and events, the peer and the link,
 * and the two ways to stop syncing a scope. The device (device-v2.ts) builds one of these over
 * its private state, so the parts see exactly this and no more.
 */
import type { SubscriptionsV2 } from './subscriptions-v2.js';
import type { EventEmitter } from 'node:events';
import type { Identity } from '../../protocol/keys.js';
import type { MessageV2 } from '../../protocol/messages-v2.js';
import type { ScopePoller } from './poller-v2.js';
import type { ScopeTableV2 } from './scope-table-v2.js';
import type { DeviceScope } from './scope-v2.js';
import type { DeviceV2Events, DeviceV2Stats } from './types-v2.js';

/** The device as its message-handling parts see it. */
export interface DeviceHostV2 {
  readonly identity: Identity;
  readonly peerId: string;
  readonly stats: DeviceV2Stats;
  /** Scope slots, by slot number. */
  readonly scopes: readonly DeviceScope[];
  /** One poller per slot. */
  readonly pollers: readonly ScopePoller[];
  readonly table: ScopeTableV2;
  /** The device's events (the parts emit `command`, `order`, `rejected`, `peer-error`). */
  readonly events: EventEmitter<DeviceV2Events>;
  /** `next_poll_ms` of answers and the retry hint of a refused `Subscribe`, ms. */
  readonly telemetryMs: number;
  /** The authenticated peer's key while the session is up, else null. */
  readonly peerKey: Uint8Array | null;
  /** Largest message body the peer takes from the device (after sealing overhead). */
  readonly sendLimit: number;
  /** Largest message body the device takes. */
  readonly receiveLimit: number;
  /** The subscription table, or null when the device takes no subscriptions. */
  readonly subscriptions: SubscriptionsV2 | null;
  /** Send one message on the link (dropped when it does not fit or no link). */
  send(msg: MessageV2): void;
  /** Stop syncing the scope in `slot` with the peer (its grant ended); the device keeps it. */
  closeToward(slot: number): void;
  /** Drop the scope in `slot` (its tables overflowed, or its join failed) and close it toward the peer. */
  drop(slot: number): void;
}
