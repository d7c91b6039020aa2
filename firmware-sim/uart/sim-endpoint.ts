/**
 * The two ends of a simulated link and the registry that finds them by path. An endpoint owns the
 * receive side of a UART driver: a bounded buffer (overflow is an overrun, as in hardware) and
 * the one pending `read()` the stream issues at a time.
 */
import type { SimLine } from './sim-line.js';

/** What an endpoint needs from its link (kept structural so the two files do not import each other). */
export interface SimLinkView {
  /** Line rate in bit/s; ports configured otherwise get noise. */
  readonly baudRate: number;
  /** False while unplugged. */
  readonly plugged: boolean;
  /** Start delivering after bytes were queued. */
  kick(): void;
}

/** What an endpoint needs from the port currently open on it; implemented by the binding. */
export interface SimPortHandle {
  /** Baud rate the port is configured for; a mismatch with the line garbles its bytes. */
  readonly baudRate: number;
  /** The adapter was pulled: fail pending and future I/O with `error`. */
  kill(error: Error): void;
}

interface PendingRead {
  buffer: Buffer;
  offset: number;
  length: number;
  resolve: (bytesRead: number) => void;
  reject: (error: Error) => void;
}

/** One end of a simulated link, addressed by its path. */
export class SimEndpoint {
  /** The port open on this endpoint, or null; set and cleared by the binding. */
  port: SimPortHandle | null = null;
  /** DTR driven by the open port; the peer sees it as DSR and DCD. False while closed. */
  dtr = false;
  /** RTS driven by the open port; the peer sees it as CTS. False while closed. */
  rts = false;
  /** The other end; set once by the link. */
  peer!: SimEndpoint;
  private readonly rx: Buffer[] = [];
  private reader: PendingRead | null = null;

  constructor(
    readonly link: SimLinkView,
    readonly path: string,
    /** The direction this endpoint transmits on. */
    readonly outgoing: SimLine,
    /** The direction this endpoint receives from. */
    readonly incoming: SimLine,
    private readonly rxBufferBytes: number,
  ) {}

  /** Accept bytes off the wire; the driver buffer is bounded, the excess is an overrun. */
  receive(chunk: Buffer): void {
    const stats = this.incoming.stats;
    if (this.port === null) {
      stats.discarded += chunk.length;
      return;
    }
    if (this.port.baudRate !== this.link.baudRate || (this.peer.port?.baudRate ?? this.link.baudRate) !== this.link.baudRate) {
      chunk = this.incoming.garble(chunk);
    }
    const room = Math.max(0, this.rxBufferBytes - stats.buffered);
    if (chunk.length > room) {
      stats.overrun += chunk.length - room;
      chunk = chunk.subarray(0, room);
    }
    if (chunk.length === 0) return;
    this.rx.push(chunk);
    stats.buffered += chunk.length;
    this.serve();
  }

  /**
   * Resolve with 1..`length` bytes copied into `buffer` at `offset`, waiting until at least one
   * byte is buffered. At most one read may be pending (the stream never issues two).
   */
  read(buffer: Buffer, offset: number, length: number): Promise<number> {
    if (this.reader !== null) return Promise.reject(new Error(`read already pending on ${this.path}`));
    return new Promise((resolve, reject) => {
      this.reader = { buffer, offset, length, resolve, reject };
      this.serve();
    });
  }

  /** Reject the pending read, if any. */
  cancelRead(error: Error): void {
    const reader = this.reader;
    this.reader = null;
    reader?.reject(error);
  }

  /** Throw away the driver buffer (flush, close, unplug). */
  clearRx(): void {
    this.incoming.stats.discarded += this.incoming.stats.buffered;
    this.incoming.stats.buffered = 0;
    this.rx.length = 0;
  }

  private serve(): void {
    const reader = this.reader;
    if (reader === null || this.rx.length === 0 || reader.length <= 0) return;
    this.reader = null;
    let n = 0;
    while (n < reader.length && this.rx.length > 0) {
      const head = this.rx[0]!;
      const k = Math.min(head.length, reader.length - n);
      head.copy(reader.buffer, reader.offset + n, 0, k);
      n += k;
      if (k === head.length) this.rx.shift();
      else this.rx[0] = head.subarray(k);
    }
    this.incoming.stats.buffered -= n;
    this.incoming.stats.delivered += n;
    reader.resolve(n);
  }
}

/** Maps paths to endpoints for a binding; independent registries never see each other's links. */
export class SimRegistry {
  private readonly endpoints = new Map<string, SimEndpoint>();

  /** Register an endpoint. @throws Error when its path is already taken. */
  add(endpoint: SimEndpoint): void {
    if (this.endpoints.has(endpoint.path)) throw new Error(`simulated port ${endpoint.path} already exists`);
    this.endpoints.set(endpoint.path, endpoint);
  }

  /** Forget an endpoint (only if it is the one registered under its path). */
  remove(endpoint: SimEndpoint): void {
    if (this.endpoints.get(endpoint.path) === endpoint) this.endpoints.delete(endpoint.path);
  }

  /** The endpoint at `path`, plugged or not, or undefined. */
  get(path: string): SimEndpoint | undefined {
    return this.endpoints.get(path);
  }

  /** Endpoints currently plugged in, in registration order. */
  plugged(): SimEndpoint[] {
    return [...this.endpoints.values()].filter((e) => e.link.plugged);
  }
}
