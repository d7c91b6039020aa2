/** A man in the middle between two memory links, for tests that watch or tamper with the wire. */
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { Link } from '../agent/link.js';
import type { SealPolicy } from '../protocol/seal.js';

/** Direction of a frame through a {@link WireTap}: sent by A (to B) or by B (to A). */
export type TapDir = 'ab' | 'ba';

/**
 * A man in the middle between two links: every frame passes `filter`, which may pass it (return
 * it), alter it (return other bytes) or drop it (null); `inject` delivers any bytes; `seen`
 * records every frame as sent. Closing one side closes the other unless `propagateClose` is off.
 */
export class WireTap {
  /** Attach engine A here. */
  readonly a: Link;
  /** Attach engine B here. */
  readonly b: Link;
  readonly seen: { dir: TapDir; body: Uint8Array }[] = [];
  filter: (dir: TapDir, body: Uint8Array) => Uint8Array | null = (_dir, body) => body;
  private readonly toA: Link;
  private readonly toB: Link;

  constructor(seal: { a?: SealPolicy; b?: SealPolicy } = {}, propagateClose = true) {
    const [a, ta] = createMemoryLinkPair({ seal: seal.a ?? 'require' }, {});
    const [b, tb] = createMemoryLinkPair({ seal: seal.b ?? 'require' }, {});
    this.a = a;
    this.b = b;
    this.toA = ta;
    this.toB = tb;
    ta.on('frame', (body) => this.pass('ab', body));
    tb.on('frame', (body) => this.pass('ba', body));
    if (propagateClose) {
      ta.once('close', () => void tb.close());
      tb.once('close', () => void ta.close());
    }
  }

  /** Deliver `body` as if sent in direction `dir` (to B for 'ab'). */
  inject(dir: TapDir, body: Uint8Array): void {
    (dir === 'ab' ? this.toB : this.toA).send(body);
  }

  /** Frames seen in `dir`. */
  frames(dir: TapDir): Uint8Array[] {
    return this.seen.filter((f) => f.dir === dir).map((f) => f.body);
  }

  private pass(dir: TapDir, body: Uint8Array): void {
    this.seen.push({ dir, body });
    const out = this.filter(dir, body);
    if (out !== null) this.inject(dir, out);
  }
}
