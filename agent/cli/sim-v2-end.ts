/**
 * The v2 simulated device as the serial wiring's `DeviceEnd` (firmware-sim/wiring/serial-wiring.ts
 * frames and ARQ are version-independent), so `attachDeviceToSerialPort` carries its bodies over a
 * simulated UART or a real serial path as it does the v1 device's.
 */
import type { DeviceEnd } from '../../firmware-sim/wiring/device-link.js';
import type { SimDeviceV2 } from '../../firmware-sim/device-v2/index.js';

/** `device` seen by the serial wiring. */
export function deviceEndV2(device: SimDeviceV2): DeviceEnd {
  return {
    maxFrame: device.maxFrame,
    connect: (l) => device.connect(l),
    disconnect: () => device.disconnect(),
    onBody: (b) => device.onBody(b),
    linkError: () => undefined, // counted by the wiring's decoder; the v2 device has no hook for it
  };
}
