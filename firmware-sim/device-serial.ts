/**
 * Wiring of a {@link SimDevice} to a `SerialPortStream` (`@serialport/stream`), whatever its
 * binding: the simulated one, a socat PTY, or a real UART. Received data goes to
 * `device.onBytes`, the device's writes go to `port.write`; each `open` of the port starts the
 * session over with `Hello`, each `close` (including an unplug) resets it.
 */
import type { SerialPortStream } from '@serialport/stream';
import type { SimDevice } from './device.js';

/** The part of a `SerialPortStream` the wiring uses (any binding). */
export type DeviceSerialPort = Pick<SerialPortStream, 'isOpen' | 'write' | 'on' | 'off'>;

/** Handle returned by {@link attachDeviceToSerialPort}. */
export interface DeviceSerialAttachment {
  /** The port currently wired, or null after {@link detach}. */
  readonly port: DeviceSerialPort | null;
  /** Move the device to another port (e.g. the device path reappeared): the session starts over. */
  replace(port: DeviceSerialPort): void;
  /** Unwire the current port and reset the device's session. The port stays open. Idempotent. */
  detach(): void;
}

/** Options of {@link attachDeviceToSerialPort}. */
export interface DeviceSerialOptions {
  /** Port errors (a write canceled by close, an unplug). Default: ignored — `close` follows. */
  onError?: (err: Error) => void;
}

/**
 * Wire `device` to `port`. If the port is already open the device says `Hello` at once,
 * otherwise on the port's `open` event.
 */
export function attachDeviceToSerialPort(device: SimDevice, port: DeviceSerialPort, options: DeviceSerialOptions = {}): DeviceSerialAttachment {
  let current: DeviceSerialPort | null = null;
  let unwire: (() => void) | null = null;

  const wire = (p: DeviceSerialPort): void => {
    const write = (bytes: Uint8Array): void => {
      if (current === p && p.isOpen) p.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    };
    const onOpen = (): void => device.connect(write);
    const onData = (chunk: Buffer): void => device.onBytes(chunk);
    const onClose = (): void => {
      if (current === p) device.disconnect();
    };
    const onError = (err: Error): void => options.onError?.(err);
    p.on('open', onOpen);
    p.on('data', onData);
    p.on('close', onClose);
    p.on('error', onError);
    current = p;
    unwire = () => {
      p.off('open', onOpen);
      p.off('data', onData);
      p.off('close', onClose);
      p.off('error', onError);
    };
    if (p.isOpen) device.connect(write);
  };

  const detach = (): void => {
    if (current === null) return;
    unwire?.();
    unwire = null;
    current = null;
    device.disconnect();
  };

  wire(port);
  return {
    get port() {
      return current;
    },
    replace(p: DeviceSerialPort): void {
      detach();
      wire(p);
    },
    detach,
  };
}
