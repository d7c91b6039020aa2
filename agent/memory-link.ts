/**
 * An in-memory connected pair of links for tests and the in-process demo, with optional faults:
 * drop, duplicate, delay and reorder. Frames are copied so neither side can mutate the other's.
 */
import { EventEmitter } from 'node:events';
import type { Link, LinkEvents } from './link.js';
import { MAX_FRAME_BYTES } from '../protocol/constants.js';
import type { SealPolicy } from '../protocol/seal.js';

/** Fault settings of a memory link (per direction, applied on send). Defaults: no faults. */
export interface MemoryLinkFaults {
  /** Probability a frame is lost. Default 0. */
  drop?: number;
  /** Probability a frame is delivered twice. Default 0. */
  duplicate?: number;
  /** Extra delivery delay in ms, uniformly 0..delayMs (so frames reorder when > 0). Default 0. */
  delayMs?: number;
  /** Random source in [0,1); default Math.random. Pass a seeded one for reproducible tests. */
  random?: () => number;
  /** Sealing policy of the link on this side (PROTOCOL.md §7.2). Default `require`. */
  seal?: SealPolicy;
  /**
   * Lose exactly the frames this returns true for (checked first, before `drop`): a test aims a
   * fault at one frame, e.g. the one an engine's `frame-out` event just announced. Default none.
   */
  lose?: (body: Uint8Array) => boolean;
}

class MemoryLink extends EventEmitter<LinkEvents> implements Link {
  peer: MemoryLink | null = null;
  open = true;
  readonly maxFrame = MAX_FRAME_BYTES;
  readonly sealPolicy: SealPolicy;
  /** Frames sent by this side. */
  sent = 0;
  constructor(
    readonly description: string,
    private readonly faults: MemoryLinkFaults,
  ) {
    super();
    this.sealPolicy = faults.seal ?? 'require';
  }

  send(body: Uint8Array): boolean {
    if (!this.open || this.peer === null) return true;
    this.sent++;
    const f = this.faults;
    const rnd = f.random ?? Math.random;
    if (f.lose?.(body) === true) return true;
    if (f.drop && rnd() < f.drop) return true;
    const copies = f.duplicate && rnd() < f.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const copy = Uint8Array.from(body);
      const peer = this.peer;
      const deliver = (): void => {
        if (peer.open) peer.emit('frame', copy);
      };
      if (f.delayMs) setTimeout(deliver, Math.floor(rnd() * f.delayMs));
      else queueMicrotask(deliver);
    }
    return true;
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.emit('close');
    const p = this.peer;
    // Close the far end after frames already queued to it (microtasks run in order), as a
    // socket delivers what was written before FIN.
    if (p?.open) await new Promise<void>((resolve) => queueMicrotask(() => void p.close().then(resolve)));
  }
}

/**
 * Create two connected links. `faults` applies to both directions unless `faultsB` is given for
 * the B→A direction.
 */
export function createMemoryLinkPair(
  faults: MemoryLinkFaults = {},
  faultsB: MemoryLinkFaults = faults,
): [Link, Link] {
  const a = new MemoryLink('memory:a', faults);
  const b = new MemoryLink('memory:b', faultsB);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
