/**
 * The seal suite's link figures, sealed and unsealed side by side in the same run (runs
 * interleaved, the order alternating per run, so drift of the shared machine hits both alike):
 *
 * - push latency of v2 engines over TCP loopback and through a real Mosquitto, `seal=require` vs
 *   `seal=off` on both ends (bench/latency.ts's method: one 100-byte commit at a time to the bench
 *   scope, commit → the subscriber's `appended` event, p50/p99 per run from an hdr histogram,
 *   median of runs), the
 *   sealed and the unsealed pair up together and their commits alternating;
 * - serial bulk sync on the simulated 115200-baud UART with `seal=prefer` (the serial default)
 *   vs `seal=off` (bench/serial.ts's method and definitions), plus its one-command push overhead.
 *
 * Every run checks on the wire that the link it measured really was sealed (or not): the share
 * of frames the publisher sent the subscriber after its `Hello` that start with the seal marker
 * (the v2 engine observes the frames it sends, `frame-out`, not those it receives).
 */
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import { MessageTypeV2 } from '../protocol/message-type-v2.js';
import { isSealed, type SealPolicy } from '../protocol/seal.js';
import { serialBulk } from './serial.js';
import { LatencyHistogram, median, payload, round, sleep, type Closer } from './util.js';
import { BENCH_SCOPE, gotAppended, joined, makeEnginesV2, mqttPairV2, subscribedV2, tcpStarV2, teardownV2 } from './v2-setup.js';

const PAYLOAD = 100;

/** Counts of the frames `e` handed a link to `peerId` since the watch began. */
export interface SealWatch {
  sealed: number;
  /** Unsealed frames other than Hello and Auth (which are never sealed). */
  plain: number;
}

/**
 * Whether an unsealed frame body is a Hello or an Auth (sent unsealed on every link): a short
 * CBOR array head whose first element is type 0 or 1. Read from two bytes, not decoded, so the
 * unsealed runs pay no more per frame than the sealed ones.
 */
function isHandshake(body: Uint8Array): boolean {
  const head = body[0] ?? 0;
  return head >= 0x80 && head <= 0x97 && (body[1] === MessageTypeV2.Hello || body[1] === MessageTypeV2.Auth);
}

/** Watch the frames `e` sends `peerId` (the engine's `frame-out`: the wire bytes, after sealing). */
export function watchSealed(e: EngineV2, peerId: string): SealWatch {
  const w: SealWatch = { sealed: 0, plain: 0 };
  e.on('frame-out', (to, _message, body) => {
    if (to !== peerId) return;
    if (isSealed(body)) w.sealed++;
    else if (!isHandshake(body)) w.plain++;
  });
  return w;
}

/** Share of watched frames that were sealed (NaN when none arrived). */
export const sealedShare = (w: SealWatch): number => w.sealed / (w.sealed + w.plain);

/** The two modes compared, and what a transport's `seal=` is set to in each. */
export type Mode = 'sealed' | 'off';

/** Per mode: the figure of every run, and the sealed share of frames in each. */
export type PerMode = Record<Mode, { values: number[]; shares: number[]; error?: string }>;

const emptyPerMode = (): PerMode => ({ sealed: { values: [], shares: [] }, off: { values: [], shares: [] } });

/** Modes in the order of run `r`: alternating, so neither always goes first. */
const order = (r: number): Mode[] => (r % 2 === 0 ? ['sealed', 'off'] : ['off', 'sealed']);

/**
 * Run `one` for each mode, `runs` times interleaved. A mode whose run throws (sealing not
 * implemented yet, a link that does not come up) is not tried again; its error is kept.
 */
async function sideBySide<T extends { value: number; share: number }>(runs: number, one: (mode: Mode) => Promise<T>, extra?: (mode: Mode, r: T) => void): Promise<PerMode> {
  const res = emptyPerMode();
  for (let r = 0; r < runs; r++) {
    for (const mode of order(r)) {
      if (res[mode].error !== undefined) continue;
      try {
        const x = await one(mode);
        res[mode].values.push(x.value);
        res[mode].shares.push(x.share);
        extra?.(mode, x);
      } catch (err) {
        res[mode].error = (err as Error).message;
      }
    }
  }
  return res;
}

/** One commit at `pub`, timed until `sub` applied it (ms). */
async function onePush(pub: EngineV2, sub: EngineV2, i: number): Promise<number> {
  const got = gotAppended(sub, 1, 10000);
  const t0 = performance.now();
  await pub.commit(BENCH_SCOPE, payload(PAYLOAD, i));
  return (await got) - t0;
}

/**
 * Push latency p99 (and p50) over `kind`, sealed vs off. Each run holds a sealed pair and an
 * unsealed pair up at once and alternates single commits between them (the order alternating
 * too), so every sealed sample has an unsealed neighbour taken a few milliseconds away on the
 * same noisy machine; p50/p99 per mode and run, median of runs.
 */
export async function latencySideBySide(kind: 'tcp' | 'mosquitto', brokerPort: number, runs: number, n: number, warm: number, gapMs: number): Promise<{ p99: PerMode; p50: PerMode }> {
  const p99 = emptyPerMode();
  const p50 = emptyPerMode();
  const policy: Record<Mode, SealPolicy> = { sealed: 'require', off: 'off' };
  for (let r = 0; r < runs; r++) {
    const engines: EngineV2[] = [];
    const closers: Closer[] = [];
    try {
      const pairs = {} as Record<Mode, { pub: EngineV2; sub: EngineV2; watch: SealWatch; h: LatencyHistogram }>;
      for (const mode of ['sealed', 'off'] as const) {
        const [pub, sub] = await makeEnginesV2(2);
        engines.push(pub!, sub!);
        try {
          closers.push(kind === 'tcp' ? await tcpStarV2(pub!, [sub!], policy[mode]) : await mqttPairV2(pub!, sub!, brokerPort, policy[mode]));
          await joined(sub!, 20000);
          await subscribedV2(pub!, sub!, 30000);
        } catch (err) {
          throw new Error(`${mode} pair over ${kind}: ${(err as Error).message}`);
        }
        pairs[mode] = { pub: pub!, sub: sub!, watch: watchSealed(pub!, sub!.peerId), h: new LatencyHistogram() };
      }
      for (let i = 0; i < warm + n; i++) {
        for (const mode of order(i)) {
          const p = pairs[mode];
          const ms = await onePush(p.pub, p.sub, i);
          if (i >= warm) p.h.recordMs(ms);
          if (gapMs > 0) await sleep(gapMs);
        }
      }
      for (const mode of ['sealed', 'off'] as const) {
        p99[mode].values.push(pairs[mode].h.pMs(99));
        p50[mode].values.push(pairs[mode].h.pMs(50));
        p99[mode].shares.push(sealedShare(pairs[mode].watch));
      }
    } finally {
      await teardownV2(engines, closers);
    }
  }
  return { p99, p50 };
}

/** Serial bulk figures per mode: line utilization, link efficiency, push overhead and wire bytes. */
export interface SerialSideBySide {
  util: PerMode;
  eff: PerMode;
  overhead: PerMode;
  /** Wire bytes of a one-command push (50-byte payload), measured on the line. */
  pushWire: PerMode;
}

/** Serial bulk sync of `n` commands, `seal=prefer` vs `seal=off`. */
export async function serialSideBySide(runs: number, n: number): Promise<SerialSideBySide> {
  const eff = emptyPerMode();
  const overhead = emptyPerMode();
  const pushWire = emptyPerMode();
  const policy: Record<Mode, SealPolicy> = { sealed: 'prefer', off: 'off' };
  const util = await sideBySide(
    runs,
    async (mode) => {
      let w: SealWatch | undefined;
      const r = await serialBulk(n, true, { seal: policy[mode], onUp: (a, b) => (w = watchSealed(a, b.peerId)) });
      return { value: r.util, share: w ? sealedShare(w) : NaN, eff: r.eff, overhead: median(r.overhead), pushWire: median(r.pushWire) };
    },
    (mode, r) => {
      eff[mode].values.push(r.eff);
      overhead[mode].values.push(r.overhead);
      pushWire[mode].values.push(r.pushWire);
    },
  );
  return { util, eff, overhead, pushWire };
}

/** Median of a mode's values, rounded; NaN when the mode produced none. */
export const med = (p: PerMode, mode: Mode, d = 3): number => (p[mode].values.length === 0 ? NaN : round(median(p[mode].values), d));

/** One line for the notes: per-run values of both modes, their sealed shares, errors. */
export function describe(what: string, p: PerMode, d = 3): string {
  const part = (m: Mode): string => {
    const x = p[m];
    const vals = x.values.map((v) => v.toFixed(d)).join(', ') || 'none';
    const shares = x.shares.map((s) => (Number.isNaN(s) ? '?' : `${Math.round(s * 100)} %`)).join(', ');
    return `${m} ${vals} (sealed frames ${shares || '–'})${x.error ? `; failed: ${x.error}` : ''}`;
  };
  return `${what}: ${part('sealed')}; ${part('off')}`;
}
