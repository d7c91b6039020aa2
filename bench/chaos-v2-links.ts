/**
 * The links of the protocol-v2 soak (bench/chaos-v2-soak.ts) and their faults: a device seam
 * (the gateway's end of one in-process v2 device, as bench/fleet.ts's), a wrapper that injects
 * garbage and truncated frames into what an engine receives, and a TCP proxy that cuts every
 * connection on demand (the dialer re-dials).
 */
import { EventEmitter } from 'node:events';
import type { Link, LinkEvents } from '../agent/link.js';
import type { SimDeviceV2 } from '../firmware-sim/device-v2/index.js';
import type { SealPolicy } from '../protocol/seal.js';
import type { Prng } from '../testkit/prng.js';

/** Counters of injected faults, shared by every link of one soak. */
export interface FaultCounters {
  garbage: number;
  truncated: number;
}

/** A frame to inject: random bytes, or a copy of a real frame cut short. */
function damaged(rnd: Prng, last: Uint8Array | null, c: FaultCounters): Uint8Array {
  if (last !== null && last.length > 1 && rnd.chance(0.5)) {
    c.truncated++;
    return last.slice(0, 1 + rnd.int(last.length - 1));
  }
  c.garbage++;
  return rnd.bytes(1 + rnd.int(300));
}

/**
 * The gateway's end of one device's seam: bodies reach the other side on a later turn, as on a
 * wire. {@link DeviceSeam.inject} hands both sides a damaged frame; `close` is a cut cable.
 */
export class DeviceSeam extends EventEmitter<LinkEvents> implements Link {
  readonly description: string;
  readonly maxFrame = 2048;
  readonly sealPolicy: SealPolicy = 'prefer';
  open = true;
  private lastIn: Uint8Array | null = null;
  private lastOut: Uint8Array | null = null;

  constructor(private readonly device: SimDeviceV2) {
    super();
    this.description = `seam:${device.peerId}`;
    device.connect({
      send: (b) => {
        const copy = Uint8Array.from(b);
        this.lastIn = copy;
        setImmediate(() => this.open && this.emit('frame', copy));
      },
      close: () => void this.close(),
    });
  }

  send(body: Uint8Array): boolean {
    const copy = Uint8Array.from(body);
    this.lastOut = copy;
    if (this.open) setImmediate(() => this.open && this.device.onBody(copy));
    return true;
  }

  /** One damaged frame toward the gateway and one toward the device. */
  inject(rnd: Prng, c: FaultCounters): void {
    if (!this.open) return;
    const toGw = damaged(rnd, this.lastIn, c);
    const toDev = damaged(rnd, this.lastOut, c);
    setImmediate(() => this.open && this.emit('frame', toGw));
    setImmediate(() => this.open && this.device.onBody(toDev));
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.device.disconnect();
    this.emit('close');
  }
}

/**
 * A link as an engine sees it, over a real one: everything passes through, and
 * {@link FaultyLink.inject} emits a damaged frame as if the wire had carried it.
 */
export class FaultyLink extends EventEmitter<LinkEvents> implements Link {
  private last: Uint8Array | null = null;

  constructor(private readonly inner: Link) {
    super();
    inner.on('frame', (b) => {
      this.last = b;
      this.emit('frame', b);
    });
    inner.on('drain', () => this.emit('drain'));
    inner.on('frame-error', (e) => this.emit('frame-error', e));
    inner.on('rehandshake', () => this.emit('rehandshake'));
    inner.once('close', (e) => this.emit('close', e));
  }

  get description(): string {
    return `faulty:${this.inner.description}`;
  }
  get maxFrame(): number {
    return this.inner.maxFrame;
  }
  get open(): boolean {
    return this.inner.open;
  }
  get sealPolicy(): SealPolicy | undefined {
    return this.inner.sealPolicy;
  }
  send(body: Uint8Array): boolean {
    return this.inner.send(body);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  markAuthenticated(): void {
    this.inner.markAuthenticated?.();
    this.emit('authenticated');
  }
  markSealed(): void {
    this.inner.markSealed?.();
  }

  /** Hand the engine one damaged frame (random bytes or a truncated copy of the last real one). */
  inject(rnd: Prng, c: FaultCounters): void {
    if (!this.open) return;
    const b = damaged(rnd, this.last, c);
    setImmediate(() => this.open && this.emit('frame', b));
  }
}

