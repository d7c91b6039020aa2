/**
 * The simulated device speaking protocol v2 (design v2-scopes §7), beside the v1 device of
 * firmware-sim/device until the flag day. Parts: device-v2.ts (orchestration), connection-v2.ts,
 * session-v2.ts, handshake-v2.ts, hello-v2.ts (link and `Hello` v2), scope-table-v2.ts and
 * admission-v2.ts (`Scopes`, which scopes it joins), router-v2.ts (messages once up),
 * intake-v2.ts (received commands), scope-v2.ts, scope-ring-v2.ts, frontier-table-v2.ts,
 * horizon-table-v2.ts, scope-rules-v2.ts (per-scope state and acceptance), responder-v2.ts
 * (answers), poller-v2.ts (polls and subscribing), subscriptions-v2.ts (subscriptions it takes,
 * pushes), telemetry-v2.ts, node-scheduler.ts,
 * device-host-v2.ts and types-v2.ts.
 *
 * ```ts
 * const device = createDeviceV2({ trustedKeys: [gatewayKey], joinScopes: ['fleet/acme'] });
 * device.connect({ send: (body) => line.write(body), close: () => line.end() });
 * device.start(); // telemetry into device/<peer id> once the gateway offered it
 * ```
 */
export { SimDeviceV2, createDeviceV2 } from './device-v2.js';
export * from './types-v2.js';
export { DeviceScope } from './scope-v2.js';
export { FrontierTableV2 } from './frontier-table-v2.js';
export { joinRefusal, tooManyKeys } from './scope-rules-v2.js';
export { ScopeRingV2, type Evicted } from './scope-ring-v2.js';
export { HORIZON_SLOTS, HorizonTableV2, PendingRecords } from './horizon-table-v2.js';
export { ResponderV2 } from './responder-v2.js';
export { SubscriptionsV2, MAX_REMAIN_OPEN_S, MAX_KNOWN_HEADS, MIN_SUBSCRIBE_RETRY_MS, type SubscriptionHostV2 } from './subscriptions-v2.js';
export { ScopePoller, POLL_TIMEOUT_MS, MIN_POLL_MS, ANTI_ENTROPY_MS, type PollerHost } from './poller-v2.js';
export { ScopeTableV2, SCOPES_RETRY_MS, SCOPES_RETRY_CAP_MS, SCOPES_GIVE_UP_MS, type EntryState, type ScopeTableHost } from './scope-table-v2.js';
export { DeviceHandshakeV2, unsupportedVersion, type HandshakeStateV2, type HandshakeStepV2 } from './handshake-v2.js';
export { SessionV2, type InboundV2 } from './session-v2.js';
export { ConnectionV2, type ConnectionHostV2 } from './connection-v2.js';
export { admitScope, type Admission, type AdmissionPolicy } from './admission-v2.js';
export { MessageRouterV2, UNKNOWN_SCOPE_ANSWER_EVERY } from './router-v2.js';
export { ingestCommand } from './intake-v2.js';
export type { DeviceHostV2 } from './device-host-v2.js';
export { TelemetryV2, defaultSensor } from './telemetry-v2.js';
export { nodeScheduler } from './node-scheduler.js';
