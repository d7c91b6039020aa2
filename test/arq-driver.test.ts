/**
 * The ARQ pump and its single timer (protocol/arq/driver.ts) on a fake scheduler: two endpoints
 * joined by a lossy fake line are run by their drivers alone (no manual polls), never hold more
 * than one timer each, leave none behind when idle or closed, coalesce bursts of pumps, and a
 * write that re-enters the pump neither recurses nor loses the work.
 */
import t from 'tap';
import fc from 'fast-check';
import { ArqDriver, type ArqScheduler } from '../protocol/arq/driver.js';
import { ArqEndpoint } from '../protocol/arq/endpoint.js';
import { mulberry32 } from '../firmware-sim/uart/sim-line.js';

/** A virtual clock with one-shot timers, counted per owner. */
class FakeClock {
  now = 0;
  created = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; owner: string; fn: () => void }>();

  /** The scheduler a driver named `owner` gets. */
  scheduler(owner: string): ArqScheduler {
    return {
      now: () => this.now,
      setTimer: (fn, ms) => {
        if (!Number.isInteger(ms) || ms < 1) throw new Error(`timer of ${ms} ms`);
        const id = ++this.seq;
        this.created++;
        this.timers.set(id, { at: this.now + ms, owner, fn });
        return () => this.timers.delete(id);
      },
    };
  }

  pending(owner?: string): number {
    let n = 0;
    for (const x of this.timers.values()) if (owner === undefined || x.owner === owner) n++;
    return n;
  }

  /** Time of the earliest timer, Infinity when none. */
  nextAt(): number {
    let at = Infinity;
    for (const x of this.timers.values()) at = Math.min(at, x.at);
    return at;
  }

  /** Fire every timer due at the current time. */
  fireDue(): void {
    for (const [id, x] of [...this.timers].sort((a, b) => a[1].at - b[1].at || a[0] - b[0])) {
      if (x.at > this.now || !this.timers.has(id)) continue;
      this.timers.delete(id);
      x.fn();
    }
  }
}

/** Two drivers over a line that loses frames, delivering after `latency` ms. */
function world(seed: number, loss: number, latency = 3) {
  const clock = new FakeClock();
  const rnd = mulberry32(seed);
  const line: Array<{ at: number; to: 0 | 1; body: Uint8Array }> = [];
  const got: [Uint8Array[], Uint8Array[]] = [[], []];
  const ends = [new ArqEndpoint({ random: mulberry32(seed + 1) }), new ArqEndpoint({ random: mulberry32(seed + 2) })] as const;
  const drivers = ([0, 1] as const).map(
    (i) =>
      new ArqDriver(ends[i], {
        scheduler: clock.scheduler(`d${i}`),
        write: (body) => {
          if (rnd() >= loss) line.push({ at: clock.now + latency, to: (1 - i) as 0 | 1, body });
        },
      }),
  );
  /** Run the world until nothing is on the line and no timer is pending; checks the one-timer rule. */
  const run = (limitMs = 600_000): void => {
    for (;;) {
      for (const i of [0, 1]) if (clock.pending(`d${i}`) > 1) throw new Error(`driver ${i} holds ${clock.pending(`d${i}`)} timers`);
      const lineAt = line.reduce((m, d) => Math.min(m, d.at), Infinity);
      const at = Math.min(lineAt, clock.nextAt());
      if (at === Infinity) return;
      if (at > limitMs) throw new Error('did not settle');
      clock.now = Math.max(clock.now, at);
      const due = line.filter((d) => d.at <= clock.now);
      line.splice(0, line.length, ...line.filter((d) => d.at > clock.now));
      for (const d of due) {
        got[d.to].push(...drivers[d.to]!.receive(d.body));
        drivers[d.to]!.pump();
      }
      clock.fireDue();
    }
  };
  return { clock, ends, drivers, got, run };
}

const hex = (xs: Uint8Array[]): string[] => xs.map((x) => Buffer.from(x).toString('hex'));

t.test('driven only by the pump and its timer, every message arrives; one timer each; none left when idle', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 6000 }), { minLength: 1, maxLength: 12 }),
      fc.double({ min: 0, max: 0.3, noNaN: true }),
      fc.integer({ min: 1, max: 1 << 30 }),
      (sizes, loss, seed) => {
        const w = world(seed, loss);
        const sent = sizes.map((n, k) => new Uint8Array(n).fill(k & 0xff));
        for (const m of sent) {
          w.ends[0].send(m);
          w.drivers[0]!.pump();
        }
        w.run();
        return (
          JSON.stringify(hex(w.got[1])) === JSON.stringify(hex(sent)) &&
          !w.ends[0].busy && !w.ends[1].busy && !w.drivers[0]!.armed && !w.drivers[1]!.armed
        );
      },
    ),
    { numRuns: 40 },
  );
  t.pass('delivered in order, at most one timer per driver, no timer once idle');
  t.end();
});

t.test('a burst of pumps at one moment arms one timer, not one per pump', (t) => {
  const clock = new FakeClock();
  const e = new ArqEndpoint({ random: () => 0.5 });
  const d = new ArqDriver(e, { scheduler: clock.scheduler('d'), write: () => undefined });
  e.send(Uint8Array.of(0x81, 7));
  for (let i = 0; i < 100; i++) d.pump();
  t.equal(clock.created, 1, 'one timer for the retransmission');
  t.ok(d.armed);
  t.end();
});

t.test('afterPump runs after each pump that ran; close() drops the timer and silences the pump', (t) => {
  const clock = new FakeClock();
  const e = new ArqEndpoint({ random: () => 0.5 });
  const writes: Uint8Array[] = [];
  let after = 0;
  const d = new ArqDriver(e, { scheduler: clock.scheduler('d'), write: (b) => writes.push(b), afterPump: () => after++ });
  e.send(Uint8Array.of(0x81, 7));
  d.pump();
  t.equal(writes.length, 1, 'the chunk is written');
  t.equal(after, 1);
  t.equal(clock.pending(), 1, 'the retransmission timer is armed');
  d.close();
  t.equal(clock.pending(), 0, 'close drops it');
  e.send(Uint8Array.of(0x81, 8));
  d.pump();
  t.equal(writes.length, 1, 'nothing is written after close');
  t.equal(after, 1, 'and afterPump does not run');
  t.equal(clock.pending(), 0);
  t.end();
});

t.test('cancel() drops the timer; the next pump arms it again', (t) => {
  const clock = new FakeClock();
  const e = new ArqEndpoint({ random: () => 0.5 });
  const d = new ArqDriver(e, { scheduler: clock.scheduler('d'), write: () => undefined });
  e.send(Uint8Array.of(0x81, 7));
  d.pump();
  d.cancel();
  t.equal(clock.pending(), 0);
  clock.now += 5000;
  d.pump();
  t.equal(clock.pending(), 1, 'armed again');
  t.equal(e.stats.resent, 1, 'the overdue chunk went again');
  t.end();
});

t.test('a write that re-enters the pump is skipped, and what it owed still goes out', (t) => {
  // A synchronous loopback: A's write is received by B at once, B's write by A. Each receive
  // pumps, inside the other side's pump.
  const clock = new FakeClock();
  const a = new ArqEndpoint({ random: () => 0.2 });
  const b = new ArqEndpoint({ random: () => 0.7 });
  const got: Uint8Array[] = [];
  let depth = 0;
  let maxDepth = 0;
  /** A driver whose writes the peer receives at once; `sink` collects what the peer delivers. */
  const mk = (self: ArqEndpoint, name: string, peer: () => ArqDriver, sink: Uint8Array[] | null): ArqDriver =>
    new ArqDriver(self, {
      scheduler: clock.scheduler(name),
      write: (body) => {
        maxDepth = Math.max(maxDepth, ++depth);
        const p = peer();
        const m = p.receive(body);
        sink?.push(...m);
        p.pump();
        depth--;
      },
    });
  const da: ArqDriver = mk(a, 'a', () => db, got);
  const db: ArqDriver = mk(b, 'b', () => da, null);
  a.send(Uint8Array.of(0x82, 1, 2));
  da.pump();
  for (let i = 0; i < 50 && (a.busy || b.busy); i++) {
    clock.now = Math.max(clock.now, clock.nextAt());
    clock.fireDue();
  }
  t.same(hex(got), ['820102'], 'delivered');
  t.ok(maxDepth <= 2, `no runaway recursion (depth ${maxDepth})`);
  t.notOk(a.busy || b.busy, 'the ACK was sent later from the timer and the sender is done');
  t.end();
});
