/**
 * A `@serialport/bindings-interface` binding over simulated links, so the real `SerialPortStream`
 * (and everything built on it: parsers, the serial transport) runs unchanged in-process:
 *
 * ```ts
 * const registry = new SimRegistry();
 * const link = createSimLink({ pathA: '/dev/simA', pathB: '/dev/simB', registry });
 * const binding = createSimBinding(registry);
 * const port = new SerialPortStream({ binding, path: '/dev/simA', baudRate: 115200 });
 * ```
 *
 * There is no process-wide registry or binding (serialport's `binding-mock` keeps one): whoever
 * creates links creates the registry and the binding over it, so independent users never see
 * each other's paths. The UART's entry is `uart/index.ts`.
 */
// The package's `exports` map has no `types` condition: only its CommonJS entry carries typings.
import type {
  BindingInterface, BindingPortInterface, OpenOptions, PortInfo, PortStatus, SetOptions, UpdateOptions,
} from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import type { SimEndpoint, SimPortHandle, SimRegistry } from './sim-endpoint.js';
import { busyError, canceledError, notFoundError, notOpenError } from './sim-errors.js';

/** The binding type accepted by `new SerialPortStream({ binding, ... })`. */
export type SimBinding = BindingInterface<SimPort, OpenOptions, PortInfo>;

const OPEN_DEFAULTS = {
  dataBits: 8, lock: true, stopBits: 1, parity: 'none', rtscts: false, xon: false, xoff: false, xany: false, hupcl: true,
} as const;

/**
 * A port open on one end of a simulated link. `isOpen` stays true after an unplug until `close()`
 * is called, like a real file descriptor whose device vanished: the stream relies on that to
 * turn the failed read into a `close` event with `disconnected: true`.
 */
export class SimPort implements BindingPortInterface, SimPortHandle {
  /** Options the port was opened with, defaults filled in as bindings-cpp does. */
  readonly openOptions: Required<OpenOptions>;
  /** Configured baud rate (`update()` changes it); must equal the link's or bytes are garbled. */
  baudRate: number;
  private state: 'open' | 'dead' | 'closed' = 'open';
  private death: Error | null = null;
  private writing: Promise<void> = Promise.resolve();

  /** Use `binding.open()`; constructing a port directly bypasses the path checks. */
  constructor(private readonly endpoint: SimEndpoint, openOptions: Required<OpenOptions>) {
    this.openOptions = openOptions;
    this.baudRate = openOptions.baudRate;
  }

  /** True from open until `close()`, even while unplugged. */
  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  /** Called by the link on unplug. */
  kill(error: Error): void {
    if (this.state !== 'open') return;
    this.state = 'dead';
    this.death = error;
    this.endpoint.outgoing.wake();
  }

  /**
   * Close the port: the pending read and write reject with `canceled: true`. Bytes already in the
   * transmit buffer still go out on the wire (as a tty drains on close); received bytes are lost.
   * Note: `SerialPortStream` passes a canceled write to its write callback, so closing a stream
   * with a write in flight emits one `error` (`canceled: true`), exactly as with bindings-cpp.
   * @throws Error when already closed.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') throw notOpenError(this.endpoint.path);
    const wasCurrent = this.state === 'open';
    this.state = 'closed';
    // A dead port's endpoint may already belong to a newer port after replug: leave it alone.
    if (wasCurrent && this.endpoint.port === this) {
      this.endpoint.port = null;
      this.endpoint.dtr = this.endpoint.rts = false;
      this.endpoint.cancelRead(canceledError(this.endpoint.path, 'read'));
      this.endpoint.clearRx();
    }
    this.endpoint.outgoing.wake();
  }

  /** Resolve with at least one received byte; rejects `canceled` on close, `ENXIO` on unplug. */
  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    if (!Buffer.isBuffer(buffer)) throw new TypeError('"buffer" is not a Buffer');
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 1) {
      throw new TypeError(`invalid offset ${offset} or length ${length}`);
    }
    if (buffer.length < offset + length) throw new Error('buffer is too small');
    this.checkIo('read');
    const bytesRead = await this.endpoint.read(buffer, offset, length);
    return { buffer, bytesRead };
  }

  /**
   * Resolve once every byte is in the bounded transmit buffer, waiting while it is full: that
   * wait is how backpressure reaches the stream. Rejects `canceled` on close, `ENXIO` on unplug.
   */
  write(buffer: Buffer): Promise<void> {
    if (!Buffer.isBuffer(buffer)) return Promise.reject(new TypeError('"buffer" is not a Buffer'));
    this.writing = this.transmit(buffer);
    return this.writing;
  }

  /** Set the port's baud rate; the line's rate does not change (see {@link SimPort.baudRate}). */
  async update(options: UpdateOptions): Promise<void> {
    if (typeof options?.baudRate !== 'number' || !(options.baudRate > 0)) {
      throw new TypeError('"options.baudRate" is not a positive number');
    }
    this.checkControl();
    this.baudRate = options.baudRate;
  }

  /** Drive DTR and RTS (default true each, like the stream's defaults); other flags are ignored. */
  async set(options: SetOptions): Promise<void> {
    if (!options || typeof options !== 'object') throw new TypeError('"options" is not an object');
    this.checkControl();
    this.endpoint.dtr = options.dtr ?? true;
    this.endpoint.rts = options.rts ?? true;
  }

  /** Null-modem wiring: CTS follows the peer's RTS, DSR and DCD follow the peer's DTR. */
  async get(): Promise<PortStatus> {
    this.checkControl();
    const peer = this.endpoint.peer;
    return { cts: peer.rts, dsr: peer.dtr, dcd: peer.dtr };
  }

  /** The port's configured baud rate. */
  async getBaudRate(): Promise<{ baudRate: number }> {
    this.checkControl();
    return { baudRate: this.baudRate };
  }

  /** Discard received-but-unread bytes and untransmitted ones (bytes on the wire still land). */
  async flush(): Promise<void> {
    this.checkControl();
    this.endpoint.clearRx();
    this.endpoint.outgoing.discard(false);
  }

  /** Resolve when the in-progress write is done and its last byte has left the wire. */
  async drain(): Promise<void> {
    this.checkControl();
    await this.writing.catch(() => undefined);
    const line = this.endpoint.outgoing;
    for (;;) {
      this.checkIo('drain');
      if (line.stats.queued === 0) return;
      await line.changed();
    }
  }

  private async transmit(buffer: Buffer): Promise<void> {
    const line = this.endpoint.outgoing;
    let sent = 0;
    for (;;) {
      this.checkIo('write');
      sent += line.enqueue(buffer.subarray(sent), performance.now());
      this.endpoint.link.kick();
      if (sent >= buffer.length) return;
      await line.changed();
    }
  }

  private checkIo(what: 'read' | 'write' | 'drain'): void {
    if (this.state === 'closed') throw canceledError(this.endpoint.path, what);
    if (this.state === 'dead') throw this.death!;
  }

  private checkControl(): void {
    if (this.state === 'closed') throw notOpenError(this.endpoint.path);
    if (this.state === 'dead') throw this.death!;
  }
}

/**
 * A binding over the links of `registry` (the one the links were created in). `list()` shows the
 * plugged paths; `open()` rejects with `ENOENT` for an unknown or unplugged path and `EBUSY` when
 * the path is already open (ports always open locked).
 */
export function createSimBinding(registry: SimRegistry): SimBinding {
  return {
    async list(): Promise<PortInfo[]> {
      return registry.plugged().map((e) => ({
        path: e.path, manufacturer: 'syncwire-sim', serialNumber: undefined, pnpId: undefined,
        locationId: undefined, productId: undefined, vendorId: undefined,
      }));
    },
    async open(options: OpenOptions): Promise<SimPort> {
      if (!options || typeof options !== 'object') throw new TypeError('"options" is not an object');
      if (!options.path) throw new TypeError('"path" is not a valid port');
      if (!(options.baudRate > 0)) throw new TypeError('"baudRate" is not a valid baudRate');
      const endpoint = registry.get(options.path);
      if (endpoint === undefined || !endpoint.link.plugged) throw notFoundError(options.path);
      if (endpoint.port !== null) throw busyError(options.path);
      const port = new SimPort(endpoint, { ...OPEN_DEFAULTS, ...options } as Required<OpenOptions>);
      endpoint.port = port;
      // Opening a tty raises DTR and RTS.
      endpoint.dtr = endpoint.rts = true;
      return port;
    },
  };
}
