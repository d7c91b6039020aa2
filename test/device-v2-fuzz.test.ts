import t from 'tap';
import fc from 'fast-check';
import { encodeBarePushV2 } from '../protocol/bare-push-v2.js';
import { encodeCbor } from '../protocol/cbor.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { Gateway } from './device-v2-gateway.js';

/** A linked device with its device scope held, and a valid message set to mutate. */
function setup(): { g: Gateway; seeds: Uint8Array[]; number: number } {
  const g = new Gateway();
  const ds = g.deviceScope();
  g.append(ds, encodeCbor(['order']));
  g.handshake();
  g.open(0, [[0, ds]]);
  const [sc] = g.take('Scopes');
  g.send({ type: 'ScopesAck', seq: sc!.seq, refused: [] });
  const number = sc!.open[0]![0];
  for (const req of g.take('PollRequest')) g.answer(req, ds, number);
  g.device.sample();
  const c = g.append(ds, encodeCbor(['x']));
  const seeds = [
    encodeMessageV2({ type: 'PollRequest', scope: number, session: 1, max_bytes: 4096, heads: [], sample: [], window: 0 }),
    encodeMessageV2({ type: 'Push', scope: number, remaining: 100, exhausted: false, commands: [c.bytes] }),
    encodeBarePushV2(c.bytes, number),
    encodeMessageV2({ type: 'Scopes', seq: 1, open: [[9, ds.id, ds.name]], close: [0] }),
    encodeMessageV2({ type: 'PollResponse', scope: number, session: 1, more: false, gap: true, total: 1, next_poll_ms: 0, heads: [], items: [c.bytes, encodeCbor([c.id, 5, []])] }),
  ];
  g.bodies.length = 0;
  return { g, seeds, number };
}

t.test('random and mutated frames never throw and never stall the device', async (t) => {
  const frame = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(fc.nat(4), fc.array(fc.tuple(fc.nat(2000), fc.integer({ min: 0, max: 255 })), { maxLength: 6 })).map(([i, muts]) => ({ i, muts })),
  );
  fc.assert(fc.property(fc.array(frame, { maxLength: 40 }), fc.nat(20_000), (frames, ms) => {
    const { g, seeds, number } = setup();
    for (const f of frames) {
      let body: Uint8Array;
      if (f instanceof Uint8Array) body = f;
      else {
        body = Uint8Array.from(seeds[f.i]!);
        for (const [at, v] of f.muts) body[at % body.length] = v;
      }
      g.device.onBody(body); // must not throw
    }
    g.clock.advance(ms);
    // Still alive: while the device scope is active a fresh poll is answered; otherwise it is refused.
    g.bodies.length = 0;
    const active = g.device.state === 'up' && g.device.table.slotOf(number) === 0 && g.device.table.isActive(0);
    g.send({ type: 'PollRequest', scope: number, session: 77, max_bytes: 4096, heads: [], sample: [], window: 0 });
    const out = g.drain();
    if (active) return out.some((m) => m.type === 'PollResponse' && m.session === 77);
    return !out.some((m) => m.type === 'PollResponse'); // inactive: never answered with commands
  }), { numRuns: 150, seed: 16 });
  t.pass('no throw, no stall');
});

t.test('the device counts what it drops instead of crashing', async (t) => {
  const { g } = setup();
  const before = g.device.stats.badFrames;
  g.device.onBody(Uint8Array.of(0xff, 0x00, 0x13));
  g.device.onBody(new Uint8Array(5000));
  t.equal(g.device.stats.badFrames, before + 2);
});
