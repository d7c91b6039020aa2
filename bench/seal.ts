/**
 * What sealed links cost (issue 13), sealed and unsealed side by side in one run:
 *
 * - `seal.bytes_per_frame_added` and per-transport wire bytes of a one-command push (bench/seal-cost.ts);
 * - `seal.throughput_mb_s.*` (ChaCha20-Poly1305, seal + open) and `seal.aes_gcm_throughput_mb_s.*`;
 * - push latency p50/p99 over TCP and Mosquitto, `seal=require` vs `seal=off`, and their ratio;
 * - serial bulk line utilization and link efficiency, `seal=prefer` vs `seal=off`, and the
 *   measured one-command push on the line, its wire bytes and their overhead over the command
 *   (bench/seal-links.ts);
 * - idle RSS of an agent process with its link up sealed vs off (bench/seal-rss.ts).
 *
 * Every link figure comes with a check on the wire that the sealed runs were sealed and the off
 * runs were not (notes); a section that fails is reported in the notes and leaves its figures out.
 */
import { sealBytes, sealThroughput } from './seal-cost.js';
import { describe, latencySideBySide, med, serialSideBySide, type PerMode } from './seal-links.js';
import { sealRss } from './seal-rss.js';
import { PROCESS_WARM_UP, QUICK, notes, round, startMosquitto } from './util.js';

/** Ratio of the sealed median to the off median (NaN when either is missing). */
const ratio = (p: PerMode, d = 3): number => round(med(p, 'sealed', 6) / med(p, 'off', 6), d);

/** Whether every sealed run was sealed and no off run was, from the wire (notes say otherwise). */
function checkSealing(what: string, p: PerMode): void {
  const s = p.sealed.shares.filter((x) => !Number.isNaN(x));
  const o = p.off.shares.filter((x) => !Number.isNaN(x));
  const sealedOk = s.length > 0 && s.every((x) => x === 1);
  const offOk = o.every((x) => x === 0);
  if (!sealedOk || !offOk)
    notes.push(
      `**seal: ${what} did not run as labelled**: sealed-frame share in sealed runs ${s.map((x) => x.toFixed(2)).join(', ') || 'none'}, in off runs ${o.map((x) => x.toFixed(2)).join(', ') || 'none'} — ` +
        'until the sessions seal (agent/sync), both columns measure unsealed links.',
    );
}

async function section(name: string, out: Record<string, number>, fn: () => Promise<Record<string, number>>): Promise<void> {
  const t0 = performance.now();
  try {
    Object.assign(out, await fn());
  } catch (err) {
    notes.push(`**seal: ${name} failed**: ${(err as Error).message}`);
    console.error(`seal/${name}: FAILED: ${(err as Error).stack ?? String(err)}`);
  }
  console.error(`seal/${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** The `seal` suite: every figure above, NaN-free (a failed section's figures are left out and noted). */
export async function benchSeal(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await section('bytes', out, async () => sealBytes());
  await section('throughput', out, async () => {
    const t = sealThroughput(QUICK ? 3 : 5, QUICK ? 80 : 150);
    notes.push(t.note);
    return t.figures;
  });
  const broker = await startMosquitto();
  try {
    // Unmeasured: warms the process, both modes alike (util.ts); half the pushes each.
    await section('latency warm-up', out, async () => {
      await latencySideBySide('tcp', broker.port, 1, PROCESS_WARM_UP / 2, 0, 1);
      return {};
    });
    for (const kind of ['tcp', 'mosquitto'] as const) {
      await section(`latency ${kind}`, out, async () => {
        const { p99, p50 } = await latencySideBySide(kind, broker.port, QUICK ? 2 : 3, QUICK ? 300 : 600, 50, 1);
        checkSealing(`push latency over ${kind}`, p99);
        notes.push(describe(`Seal push latency p99 ms over ${kind}, per run`, p99));
        return {
          [`seal.push_p99_ms.${kind}.sealed`]: med(p99, 'sealed'),
          [`seal.push_p99_ms.${kind}.off`]: med(p99, 'off'),
          [`seal.push_p99_ratio.${kind}`]: ratio(p99),
          [`seal.push_p50_ms.${kind}.sealed`]: med(p50, 'sealed'),
          [`seal.push_p50_ms.${kind}.off`]: med(p50, 'off'),
          [`seal.push_p50_ratio.${kind}`]: ratio(p50),
        };
      });
    }
  } finally {
    await broker.stop();
  }
  await section('serial', out, async () => {
    const n = QUICK ? 200 : 700;
    const s = await serialSideBySide(1, n);
    checkSealing('serial bulk', s.util);
    notes.push(describe(`Seal serial bulk (${n} commands) line utilization`, s.util, 4));
    return {
      'seal.serial.bulk_commands': n,
      'seal.serial.line_utilization.sealed': med(s.util, 'sealed', 4),
      'seal.serial.line_utilization.off': med(s.util, 'off', 4),
      'seal.serial.link_efficiency.sealed': med(s.eff, 'sealed', 4),
      'seal.serial.link_efficiency.off': med(s.eff, 'off', 4),
      'seal.serial.push_overhead_bytes.sealed': med(s.overhead, 'sealed', 1),
      'seal.serial.push_overhead_bytes.off': med(s.overhead, 'off', 1),
      'seal.serial.push_wire_bytes.sealed': med(s.pushWire, 'sealed', 1),
      'seal.serial.push_wire_bytes.off': med(s.pushWire, 'off', 1),
    };
  });
  await section('rss', out, async () => {
    const p = await sealRss(QUICK ? 1 : 2, QUICK ? 2500 : 4000);
    checkSealing('idle RSS', p);
    notes.push(describe('Seal idle agent RSS MB (TCP link up), per run', p, 1));
    return { 'seal.idle_rss_mb.sealed': med(p, 'sealed', 1), 'seal.idle_rss_mb.off': med(p, 'off', 1) };
  });
  // NaN (a mode that failed) is not a figure: leave it out rather than write null to results.json.
  return Object.fromEntries(Object.entries(out).filter(([, v]) => Number.isFinite(v)));
}
