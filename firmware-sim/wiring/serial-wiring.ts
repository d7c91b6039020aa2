/**
 * Wiring of a simulated device ({@link DeviceEnd}, e.g. a `SimDevice`) to a `SerialPortStream`
 * (`@serialport/stream`), whatever its binding: the simulated one, a socat PTY, or a real UART.
 * Each `open` of the port starts the device's session over with `Hello`, each `close`
 * (including an unplug) resets it.
 *
 * This is the device's whole link layer; the device itself only sends and receives message
 * bodies (device-link.ts). Each message is encoded once and decoded once here: link frames
 * `COBS(body ‖ CRC) ‖ 0x00` from the port are decoded, ARQ frames go through an
 * {@link ArqEndpoint} (run by the same {@link ArqDriver} pump and timer as the agent's serial
 * transport) and the messages it completes go to the device, while plain message frames (first
 * byte 0x80–0x9f) go to it directly. The device's bodies go out as plain frames, or queued into
 * the ARQ — in mode `'arq'` always, in mode `'auto'` (the default) once the peer has sent an ARQ
 * frame on this connection (until then plain: a peer without ARQ, such as another device in
 * `'auto'` or a scripted test peer, keeps working unchanged). A lone 0x00 goes out first on every
 * open, ending any partial frame at the receiver.
 */
import type { SerialPortStream } from '@serialport/stream';
import { ArqDriver, type ArqScheduler } from '../../protocol/arq/driver.js';
import { ArqEndpoint, type ArqOptions } from '../../protocol/arq/endpoint.js';
import { isArqFrame } from '../../protocol/arq/wire.js';
import { SerialFrameDecoder, encodeSerialFrame } from '../../protocol/serial-frame.js';
import type { DeviceEnd, DeviceLink } from './device-link.js';

const LINK_OPEN = Uint8Array.of(0);

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
export function attachDeviceToSerialPort(device: DeviceEnd, port: DeviceSerialPort, options: DeviceSerialOptions = {}): DeviceSerialAttachment {
  let current: DeviceSerialPort | null = null;
  let unwire: (() => void) | null = null;
  const mode = options.linkLayer ?? 'auto';
  const arq = new ArqEndpoint({ bytesPerMs: (options.baudRate ?? 115200) / 10_000, maxMessage: device.maxFrame, ...options.arq });
  // Link frames from the port (a chunk plus header, or a plain message up to the device's limit).
  const inbound = new SerialFrameDecoder(device.maxFrame);
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
    // The device's side of this port: each body is one frame, plain or through the ARQ.
    const link: DeviceLink = {
      send(body) {
        if (!useArq) return rawWrite(encodeSerialFrame(body));
        try {
          arq.send(body);
        } catch {
          // Queue full (the line is dead): the message is lost; the sync protocol repairs that.
        }
        pump();
      },
    };
    const connect = (): void => {
      resetLink();
      rawWrite(LINK_OPEN);
      device.connect(link);
    };
    const onOpen = (): void => connect();
    const onData = (chunk: Buffer): void => {
      const r = inbound.push(chunk);
      for (const err of r.errors) device.linkError(err);
      let arqSeen = false;
      for (const body of r.frames) {
        if (!isArqFrame(body)) {
          device.onBody(body);
          continue;
        }
        arqSeen = true;
        if (mode === 'auto') useArq = true;
        for (const m of driver.receive(body)) device.onBody(m);
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
