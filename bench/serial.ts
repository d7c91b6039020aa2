/**
 * Serial line use on the simulated 115200-baud UART (8N1: 11,520 bytes/s), through the real
 * serial transport and the v2 engine:
 * - bulk sync of the bench scope holding N commands (100-byte payloads) by poll from a cold peer
 *   that joins it once the link is up: line utilization (A→B wire bytes / (elapsed × 11,520)) and
 *   link efficiency (command bytes, genesis included, / wire bytes, both directions), with a
 *   utilization time series for the plot; `serial.reverse_wire_share` is the share of wire bytes
 *   going B→A (the cold peer's handshake, scope opening and poll requests: heads and samples);
 *   payload efficiency (issue 17): the commands' payload bytes (N × 100) / wire bytes, both
 *   directions, the same window: the share of the line that carries what the application wrote;
 * - a push of one 50-byte command, from the link's byte counters: its wire bytes A→B, and those
 *   minus the command's canonical encoding (framing + envelope overhead).
 */
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import type { SimLink } from '../firmware-sim/uart/index.js';
import type { SealPolicy } from '../protocol/seal.js';
import { QUICK, median, payload, plots, round, sleep, until } from './util.js';
import { BENCH_SCOPE, caughtUp, gotAppended, makeEnginesV2, serialPairV2, subscribedV2, teardownV2 } from './v2-setup.js';

const LINE_BPS = 11520;
/** Payload bytes of every bulk command. */
const PAYLOAD = 100;

const idle = (sim: SimLink): boolean => {
  const s = sim.stats();
  return s.aToB.queued + s.aToB.inFlight + s.bToA.queued + s.bToA.inFlight === 0;
};

/** Figures of one bulk sync. */
export interface SerialBulk {
  util: number;
  eff: number;
  /** Payload bytes of the N commands / wire bytes, both directions. */
  payloadEff: number;
  reverse: number;
  secs: number;
  series: [number, number][];
  /** Per one-command push: wire bytes A→B minus the command's canonical encoding. */
  overhead: number[];
  /** Per one-command push: wire bytes A→B. */
  pushWire: number[];
}

/** Options of {@link serialBulk}. */
export interface SerialBulkOptions {
  /** Sealing policy of both ends (default: the serial default, `prefer`). */
  seal?: SealPolicy;
  /** Called once both peers are authenticated, before the timed window (the seal suite watches frames). */
  onUp?: (a: EngineV2, b: EngineV2) => void;
}

/**
 * One bulk sync of `n` commands by poll from a cold peer, then (`withOverhead`) three one-command
 * pushes measured on the line.
 */
export async function serialBulk(n: number, withOverhead: boolean, opts: SerialBulkOptions = {}): Promise<SerialBulk> {
  // B, the cold peer, is a device: it takes covered commands without their signatures (elide).
  const [a, b] = await makeEnginesV2(2, { elide: [1] });
  for (let i = 0; i < n; i++) await a!.commit(BENCH_SCOPE, payload(PAYLOAD, i));
  const store = a!.scope(BENCH_SCOPE)!.store;
  let cmdBytes = 0;
  for (let h = 0; h < store.size; h++) cmdBytes += store.lengthOf(h);
  const done = caughtUp(b!, a!, 600000);
  const { sim, close } = await serialPairV2(a!, b!, 115200, opts.seal);
  try {
    opts.onUp?.(a!, b!);
    const s0 = sim.stats();
    const t0 = performance.now();
    const series: [number, number][] = [];
    let last = { t: t0, bytes: s0.aToB.delivered };
    const timer = setInterval(() => {
      const now = performance.now();
      const d = sim.stats().aToB.delivered;
      series.push([(now - t0) / 1000, (d - last.bytes) / (((now - last.t) / 1000) * LINE_BPS)]);
      last = { t: now, bytes: d };
    }, 250);
    const t1 = await done;
    clearInterval(timer);
    const s1 = sim.stats();
    const secs = (t1 - t0) / 1000;
    const ab = s1.aToB.delivered - s0.aToB.delivered;
    const ba = s1.bToA.delivered - s0.bToA.delivered;
    const overhead: number[] = [];
    const pushWire: number[] = [];
    if (withOverhead) {
      await subscribedV2(a!, b!, 30000);
      for (let i = 0; i < 3; i++) {
        const p = await pushBytes(a!, b!, sim, i);
        overhead.push(p.wire - p.command);
        pushWire.push(p.wire);
      }
    }
    const wire = ab + ba;
    return { util: ab / (secs * LINE_BPS), eff: cmdBytes / wire, payloadEff: (n * PAYLOAD) / wire, reverse: ba / wire, secs, series, overhead, pushWire };
  } finally {
    await teardownV2([a!, b!], [close]);
  }
}

/** Wire bytes A→B for one pushed 50-byte command, and the command's own canonical encoding. */
async function pushBytes(a: EngineV2, b: EngineV2, sim: SimLink, i: number): Promise<{ wire: number; command: number }> {
  await until(() => idle(sim), 10000, 'idle line');
  await sleep(50);
  const w0 = sim.stats().aToB.written;
  const got = gotAppended(b, 1, 10000);
  const id = await a.commit(BENCH_SCOPE, payload(50, 900000 + i));
  await got;
  await until(() => idle(sim), 10000, 'idle line');
  const store = a.scope(BENCH_SCOPE)!.store;
  return { wire: sim.stats().aToB.written - w0, command: store.lengthOf(store.indexOf(id)) };
}

export async function benchSerial(): Promise<Record<string, number>> {
  const n = QUICK ? 300 : 2000;
  const runs = QUICK ? 1 : 2;
  await serialBulk(50, false); // warm-up
  const utils: number[] = [];
  const effs: number[] = [];
  const payloadEffs: number[] = [];
  const pushWire: number[] = [];
  const reverse: number[] = [];
  const secs: number[] = [];
  const overheads: number[] = [];
  for (let r = 0; r < runs; r++) {
    const res = await serialBulk(n, r === 0);
    utils.push(res.util);
    effs.push(res.eff);
    payloadEffs.push(res.payloadEff);
    pushWire.push(...res.pushWire);
    reverse.push(res.reverse);
    secs.push(res.secs);
    overheads.push(...res.overhead);
    if (r === 0) plots.serial_utilization = res.series;
  }
  return {
    'serial.line_utilization': round(median(utils), 4),
    'serial.link_efficiency': round(median(effs), 4),
    'serial.payload_efficiency': round(median(payloadEffs), 4),
    'serial.reverse_wire_share': round(median(reverse), 4),
    'serial.bulk_commands': n,
    'serial.bulk_seconds': round(median(secs), 2),
    'serial.frame_overhead_bytes': median(overheads),
    'serial.push_wire_bytes': median(pushWire),
  };
}
