/**
 * The simulated device: a second, minimal implementation of the protocol built on `protocol/`
 * alone, written as firmware would be (fixed buffers, no growth, no graph walk). Read it first to
 * see the protocol end to end.
 *
 * ```ts
 * const device = createDevice({ trustedKeys: [agentKey] });
 * attachDeviceToSerialPort(device, port); // or device.connect(link) with any DeviceLink
 * device.start();
 * ```
 *
 * Parts: device.ts (orchestration), device-link.ts (the message-level seam: bodies in and out),
 * connection.ts (the session layer on one link: `Hello` retries around session.ts, the pure
 * handshake + sealing of handshake.ts, hello-exchange.ts and seal.ts), sync.ts (subscribe and
 * poll), poll.ts (answers from the ring), intake.ts (received commands), own-chain.ts (own
 * commands), telemetry.ts, ring.ts, keys.ts, options.ts, types.ts, and serial-wiring.ts
 * (COBS/CRC and the serial ARQ between a serial port and the device: one encode and one decode
 * per message).
 */
export { SimDevice, createDevice } from './device.js';
export type { DeviceEnd, DeviceLink } from '../wiring/device-link.js';
export * from './types.js';
export {
  attachDeviceToSerialPort, type DeviceSerialAttachment, type DeviceSerialOptions, type DeviceSerialPort,
} from '../wiring/serial-wiring.js';
export { CommandRing, DEFAULT_RING_SIZE, DeviceRingFullError, MAX_RING_SIZE } from './ring.js';
export { RingResponder } from './poll.js';
export { DEFAULT_KEY_SLOTS, DeviceKeyTable } from './keys.js';
export {
  ANTI_ENTROPY_POLL_MS, BACKOFF_CAP_MS, DEVICE_SAMPLE_IDS, DEVICE_SUBSCRIBE_MAX_BYTES, DEVICE_SUBSCRIBE_REMAIN_OPEN_S,
  DeviceSync, MIN_FALLBACK_POLL_MS, POLL_BACKOFF_BASE_MS, POLL_TIMEOUT_MS, SUBSCRIBE_RETRY_MS, type PollMode, type SyncHost,
} from './sync.js';
export { DeviceHandshake, type HandshakeOptions, type HandshakeState, type HandshakeStep, type Outgoing } from './handshake.js';
export { OwnHello, acceptHello, signedBy, type PeerHello } from './hello-exchange.js';
export { DeviceSession, type Inbound, type SessionStats } from './session.js';
export { DeviceConnection, type ConnectionHost, type ConnectionStats } from './connection.js';
export { Telemetry } from './telemetry.js';
export { resolveDeviceOptions, type DeviceSettings } from './options.js';
export { SealedSession, negotiateSeal, type Opened } from './seal.js';
export { DeviceIntake, type IntakeEvents } from './intake.js';
