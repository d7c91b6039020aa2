/**
 * The link conformance suite: what every {@link Link} must do whatever carries it — frames of
 * every size up to `maxFrame` intact and in order both ways, a 1000-frame burst, backpressure
 * (`send` false, then `drain`) where the link has a queue, and a clean close from either end
 * (`close` once on each side, sends and closes after it harmless). Each case gets a fresh pair
 * from the factory and tears it down after.
 *
 * Usage, one call per transport: `runLinkConformance({ name, caps, make: async () => pair })`.
 */
import tap, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import type { Link, Transport } from '../../agent/link.js';
import type { OpenedTransport } from '../../agent/transport/registry.js';
import { sleep } from '../wait.js';

/** A connected pair and how to dispose of everything behind it. */
export interface LinkPair {
  a: Link;
  b: Link;
  teardown(): Promise<void>;
}

/** What a transport can promise beyond the common contract. */
export interface LinkCaps {
  /** `send` returns false under load and `drain` follows. The memory pair has no queue. */
  backpressure: boolean;
  /** Closing one end closes the other. A UART has no hang-up signal. */
  remoteClose: boolean;
}

/** One transport under test. */
export interface LinkPairFactory {
  name: string;
  caps: LinkCaps;
  /** A reason to skip the whole transport, or undefined. */
  skip?: string | undefined;
  /** A fresh connected pair (called once per case). */
  make(): Promise<LinkPair>;
}

function once<T>(emitter: { once(ev: string, fn: (x: T) => void): unknown }, ev: string): Promise<T> {
  return new Promise((resolve) => emitter.once(ev, resolve));
}

/** The first link a transport emits. */
export function firstLink(tr: Transport): Promise<Link> {
  return once<Link>(tr, 'link');
}

/**
 * A pair from two transports: their first links. `prime` replaces "first link of each" for
 * transports whose link appears only on the first message (MQTT listen mode): it gets the dialer
 * (B) and the listener (A) and resolves with the listener's link. `extraTeardown` runs after both
 * transports closed.
 */
export async function transportPair(
  openA: () => Promise<OpenedTransport>,
  openB: (a: OpenedTransport) => Promise<OpenedTransport>,
  prime?: (dialer: OpenedTransport, listener: OpenedTransport) => Promise<Link>,
  extraTeardown: () => Promise<void> = async () => {},
): Promise<LinkPair> {
  const ta = await openA();
  const la = prime ? undefined : firstLink(ta);
  const tb = await openB(ta);
  const lb = firstLink(tb);
  const a = prime ? await prime(tb, ta) : await la!;
  const b = await lb;
  return {
    a,
    b,
    async teardown() {
      await Promise.all([ta.close(), tb.close()]);
      await extraTeardown();
    },
  };
}

/** A frame that carries its index in its first 4 bytes (when long enough) and random filler. */
function frame(i: number, size: number): Uint8Array {
  const f = randomBytes(size);
  if (size >= 4) new DataView(f.buffer, f.byteOffset).setUint32(0, i);
  return new Uint8Array(f.buffer, f.byteOffset, size);
}

/** Collect every frame a link receives. */
function collect(link: Link): { frames: Uint8Array[]; until(n: number): Promise<void> } {
  const frames: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  link.on('frame', (f) => {
    frames.push(Uint8Array.from(f));
    wake?.();
  });
  return {
    frames,
    async until(n) {
      while (frames.length < n) {
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    },
  };
}

/** Send frames honouring backpressure: wait for `drain` whenever `send` says so. */
async function sendAll(link: Link, frames: Uint8Array[]): Promise<void> {
  for (const f of frames) {
    if (!link.send(f)) await once(link, 'drain');
  }
}

function equalFrames(tt: Test, got: Uint8Array[], want: Uint8Array[], what: string): void {
  tt.equal(got.length, want.length, `${what}: count`);
  const bad = want.findIndex((w, i) => {
    const g = got[i];
    return g === undefined || Buffer.compare(Buffer.from(w), Buffer.from(g)) !== 0;
  });
  tt.equal(bad, -1, `${what}: every frame intact and in order`);
}

function countCloses(link: Link): { n: number; done: Promise<Error | undefined> } {
  const c = { n: 0, done: once<Error | undefined>(link, 'close') };
  link.on('close', () => c.n++);
  return c;
}

/** Run the suite against `f` as a subtest of `parent` (default: the file's root test). */
export function runLinkConformance(f: LinkPairFactory, parent: Test = tap): void {
  parent.test(f.name, { skip: f.skip ?? false }, async (tt) => {
    const withPair = (name: string, fn: (tt: Test, p: LinkPair) => Promise<void>, skip: string | false = false): void => {
      tt.test(name, { skip }, async (t2) => {
        const p = await f.make();
        t2.teardown(() => p.teardown());
        await fn(t2, p);
      });
    };

    withPair('frames of sizes 1..maxFrame arrive intact and in order, both ways', async (t2, { a, b }) => {
      t2.equal(a.maxFrame, b.maxFrame, 'both ends agree on maxFrame');
      const sizes = [1, 2, 3, 4, 100, 252, 253, 254, 255, 256, 1000, 4096, 65_535, a.maxFrame].filter((s) => s <= a.maxFrame);
      const ab = sizes.map((s, i) => frame(i, s));
      const ba = sizes.map((s, i) => frame(i, s));
      const ra = collect(a);
      const rb = collect(b);
      await Promise.all([sendAll(a, ab), sendAll(b, ba), rb.until(ab.length), ra.until(ba.length)]);
      equalFrames(t2, rb.frames, ab, 'a→b');
      equalFrames(t2, ra.frames, ba, 'b→a');
    });

    withPair('a burst of 1000 frames arrives, all and in order, both ways', async (t2, { a, b }) => {
      const mk = (): Uint8Array[] => Array.from({ length: 1000 }, (_, i) => frame(i, 4 + ((i * 37) % 200)));
      const ab = mk();
      const ba = mk();
      const ra = collect(a);
      const rb = collect(b);
      await Promise.all([sendAll(a, ab), sendAll(b, ba), rb.until(1000), ra.until(1000)]);
      equalFrames(t2, rb.frames, ab, 'a→b');
      equalFrames(t2, ra.frames, ba, 'b→a');
    });

    withPair('flooding: send returns false at some point and drain follows', async (t2, { a, b }) => {
      const rb = collect(b);
      const chunk = frame(0, 4096);
      let sent = 0;
      let refused = false;
      // Bounded so a transport that never refuses fails instead of eating memory.
      while (sent < 16_384 && !refused) {
        refused = !a.send(chunk);
        sent++;
      }
      t2.ok(refused, `send returned false after ${sent} frames`);
      await once(a, 'drain');
      t2.pass('drain fired');
      await rb.until(sent);
      t2.equal(rb.frames.length, sent, 'every queued frame arrived');
    }, f.caps.backpressure ? false : 'this link has no send queue');

    for (const side of ['a', 'b'] as const) {
      withPair(`close from ${side}: close emitted once on both sides; send after close and close again are harmless`, async (t2, p) => {
        const [closer, other] = side === 'a' ? [p.a, p.b] : [p.b, p.a];
        const cc = countCloses(closer);
        const co = countCloses(other);
        await closer.close();
        await cc.done;
        t2.equal(closer.open, false, 'closer reports closed');
        if (f.caps.remoteClose) {
          await co.done;
          t2.equal(other.open, false, 'other side reports closed');
        }
        t2.doesNotThrow(() => closer.send(Uint8Array.of(1, 2, 3)), 'send after close does not throw');
        if (f.caps.remoteClose) t2.doesNotThrow(() => other.send(Uint8Array.of(1)), 'send on the other closed side does not throw');
        await closer.close();
        await closer.close();
        // Let any duplicate event surface before counting.
        await sleep(50);
        t2.equal(cc.n, 1, 'closer emitted close once');
        if (f.caps.remoteClose) t2.equal(co.n, 1, 'other side emitted close once');
      });
    }
  });
}
