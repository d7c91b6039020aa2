/**
 * The simulated device's settings, checked and with their defaults filled in (the defaults are
 * documented on {@link DeviceOptions}).
 */
import {
  MAX_FRAME_BYTES, MIN_FRAME_BYTES, SEAL_POLICIES, generateIdentity, identityFromSecret,
  type Identity, type SealPolicy,
} from '../../protocol/index.js';
import { DEFAULT_RING_SIZE } from './ring.js';
import {
  DEFAULT_DEVICE_MAX_FRAME, DEFAULT_HANDSHAKE_RETRY_MS, DEFAULT_TELEMETRY_MS, type DeviceOptions,
} from './types.js';

/** {@link DeviceOptions} resolved. */
export interface DeviceSettings {
  identity: Identity;
  ringSize: number;
  maxFrame: number;
  telemetryMs: number;
  /** 0: no fixed-period polling. */
  pollMs: number;
  handshakeRetryMs: number;
  trustAny: boolean;
  trustedKeys: Uint8Array[];
  subscribe: boolean;
  seal: SealPolicy;
  readSensor: (counter: number) => number;
  random: ((buf: Uint8Array) => void) | undefined;
}

/**
 * Check `options` and fill in the defaults. The ring size is checked by the ring itself.
 * @throws RangeError on a bad `maxFrame`, `telemetryMs`, `pollMs`, `handshakeRetryMs` or `seal`.
 */
export function resolveDeviceOptions(options: DeviceOptions): DeviceSettings {
  const maxFrame = options.maxFrame ?? DEFAULT_DEVICE_MAX_FRAME;
  if (!Number.isInteger(maxFrame) || maxFrame < MIN_FRAME_BYTES || maxFrame > MAX_FRAME_BYTES) {
    throw new RangeError(`maxFrame must be an integer in ${MIN_FRAME_BYTES}..${MAX_FRAME_BYTES}: ${maxFrame}`);
  }
  const telemetryMs = positive('telemetryMs', options.telemetryMs ?? DEFAULT_TELEMETRY_MS);
  const pollMs = options.pollMs ?? 0;
  if (pollMs !== 0) positive('pollMs', pollMs);
  const handshakeRetryMs = positive('handshakeRetryMs', options.handshakeRetryMs ?? DEFAULT_HANDSHAKE_RETRY_MS);
  const seal = options.seal ?? 'prefer';
  if (!SEAL_POLICIES.includes(seal)) throw new RangeError(`seal must be one of ${SEAL_POLICIES.join(', ')}: ${String(seal)}`);
  return {
    identity: options.identity ?? (options.secretKey ? identityFromSecret(options.secretKey) : generateIdentity()),
    ringSize: options.ringSize ?? DEFAULT_RING_SIZE,
    maxFrame, telemetryMs, pollMs, handshakeRetryMs, seal,
    trustAny: options.trustAny ?? false,
    trustedKeys: options.trustedKeys ?? [],
    subscribe: options.subscribe ?? true,
    readSensor: options.readSensor ?? ((n) => 2000 + Math.round(300 * Math.sin(n / 10))),
    random: options.random,
  };
}

function positive(name: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`${name} must be a positive number: ${v}`);
  return v;
}
