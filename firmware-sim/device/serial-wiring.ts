/**
 * Wiring of a {@link SimDevice} to a `SerialPortStream` (`@serialport/stream`), whatever its
 * binding: the simulated one, a socat PTY, or a real UART. Received data goes to
 * `device.onBytes`, the device's writes go to `port.write`; each `open` of the port starts the
 * session over with `Hello`, each `close` (including an unplug) resets it.
 *
 * Link layer: the device itself speaks plain message frames (`device.onBytes` takes
 * `COBS(message ‖ CRC) ‖ 0x00`, as before). This wiring adds the serial ARQ of
 * `protocol/arq/` between the device and the port, as the agent's serial transport does (the same
 * {@link ArqDriver} pump and timer):
 * link frames from the port are decoded here; ARQ frames go through an {@link ArqEndpoint} and
 * the messages it delivers are handed to the device as plain frames; plain message frames (first
 * byte 0x80–0x9f) pass straight through. In the other direction the device's frames are decoded
 * and queued into the ARQ — in mode `'arq'` always, in mode `'auto'` (the default) once the peer
 * has sent an ARQ frame on this connection (until then, as plain frames: a peer without ARQ, such
 * as another device in `'auto'` or a scripted test peer, keeps working unchanged).
 */
import type { SerialPortStream } from '@serialport/stream';
import { ArqDriver, type ArqScheduler } from '../../protocol/arq/driver.js';
import { ArqEndpoint, type ArqOptions } from '../../protocol/arq/endpoint.js';
import { isArqFrame } from '../../protocol/arq/wire.js';
import { SerialFrameDecoder, encodeSerialFrame } from '../../protocol/serial-frame.js';
import type { SimDevice } from './device.js';

/** Node's clock and timers; a pending retransmission never keeps the process alive. */
const nodeScheduler: ArqScheduler = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

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
  /**
   * Link layer towards the port: `'auto'` (default) sends plain frames until the peer sends an
   * ARQ frame, then ARQ; `'arq'` always ARQ; `'plain'` never (ARQ frames received are still
   * understood).
   */
  linkLayer?: 'auto' | 'arq' | 'plain';
  /** Line rate (bit/s) for the ARQ's RTT estimate. Default 115200. */
  baudRate?: number;
  /** ARQ tuning. */
  arq?: ArqOptions;
}

/**
 * Wire `device` to `port`. If the port is already open the device says `Hello` at once,
 * otherwise on the port's `open` event.
 */
export function attachDeviceToSerialPort(device: SimDevice, port: DeviceSerialPort, options: DeviceSerialOptions = {}): DeviceSerialAttachment {
  let current: DeviceSerialPort | null = null;
  let unwire: (() => void) | null = null;
  const mode = options.linkLayer ?? 'auto';
  const arq = new ArqEndpoint({ bytesPerMs: (options.baudRate ?? 115200) / 10_000, maxMessage: device.maxFrame, ...options.arq });
  // Link frames from the port (a chunk plus header, or a plain message up to the device's limit).
  const inbound = new SerialFrameDecoder(device.maxFrame);
  // The device's own output, split back into message bodies when it goes through the ARQ.
  const outbound = new SerialFrameDecoder(device.maxFrame);
  let useArq = mode === 'arq';
  // One driver for the attachment: it writes to whichever port is wired (nothing when none is).
  const driver = new ArqDriver(arq, {
    scheduler: nodeScheduler,
    write: (f) => {
      if (current !== null && current.isOpen) current.write(toBuffer(encodeSerialFrame(f)));
    },
  });

  const resetLink = (): void => {
    arq.reset();
    inbound.reset();
    outbound.reset();
    useArq = mode === 'arq';
    driver.cancel();
  };

  const wire = (p: DeviceSerialPort): void => {
    const rawWrite = (bytes: Uint8Array): void => {
      if (current === p && p.isOpen) p.write(toBuffer(bytes));
    };
    const pump = (): void => {
      if (current === p) driver.pump();
    };
    const write = (bytes: Uint8Array): void => {
      if (!useArq) return rawWrite(bytes);
      for (const body of outbound.push(bytes).frames) {
        try {
          arq.send(body);
        } catch {
          // Queue full (the line is dead): the message is lost; the sync protocol repairs that.
        }
      }
      pump();
    };
    const connect = (): void => {
      resetLink();
      // A lone 0x00 ends any partial frame at the receiver (the device's own is swallowed by
      // `outbound` when the ARQ is on).
      if (useArq) rawWrite(Uint8Array.of(0));
      device.connect(write);
    };
    const onOpen = (): void => connect();
    const onData = (chunk: Buffer): void => {
      const r = inbound.push(chunk);
      for (const err of r.errors) device.linkError(err);
      let arqSeen = false;
      for (const body of r.frames) {
        if (!isArqFrame(body)) {
          device.onBytes(encodeSerialFrame(body));
          continue;
        }
        arqSeen = true;
        if (mode === 'auto') useArq = true;
        for (const m of driver.receive(body)) device.onBytes(encodeSerialFrame(m));
      }
      if (arqSeen) pump();
    };
    const onClose = (): void => {
      if (current === p) {
        resetLink();
        device.disconnect();
      }
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
    if (p.isOpen) connect();
  };

  const detach = (): void => {
    if (current === null) return;
    unwire?.();
    unwire = null;
    current = null;
    resetLink();
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

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
