/**
 * What connects a simulated device to a serial port, whatever protocol version it speaks: the
 * message-level seam (device-link.ts: bodies in and out) and the serial link layer under it
 * (serial-wiring.ts: COBS/CRC frames and the serial ARQ, one encode and one decode per message).
 */
export type { DeviceEnd, DeviceLink } from './device-link.js';
export {
  attachDeviceToSerialPort, type DeviceSerialAttachment, type DeviceSerialOptions, type DeviceSerialPort,
} from './serial-wiring.js';
