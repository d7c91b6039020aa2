/**
 * Redundancy in a 3-peer mesh of v2 engines (triangle, TCP loopback, engine default pacing) with
 * concurrent writers of the bench scope (all three are `W` members). Peer 0 creates the scope and
 * starts with a history of H commands the others lack, so connecting includes their join and a
 * bootstrap. Once all three are connected, subscribed to each other and caught up (and the
 * links quiet), the steady-state phase begins: every peer commits while the others do.
 * `mesh3.redundant_ratio` = duplicates / received from the scope's ingest counters over that
 * steady-state phase; `mesh3.connect_redundant_ratio` covers the connection phase (bootstrap).
 * The v2 engine emits no per-batch ingest event, so v1's attribution of duplicates by delivery
 * (`mesh3.duplicates_push`, `mesh3.duplicates_poll`) is no longer measured.
 */
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import { QUICK, median, notes, payload, round, sleep, until, type Closer } from './util.js';
import { BENCH_SCOPE, joined, makeEnginesV2, subscribedV2, tcpStarV2, teardownV2 } from './v2-setup.js';

/** The bench scope's ingest counters of `e` (received and duplicates over every batch and push). */
const ingestOf = (e: EngineV2): { received: number; duplicates: number } => {
  const st = e.scope(BENCH_SCOPE)?.ingest.stats;
  return { received: st?.received ?? 0, duplicates: st?.duplicates ?? 0 };
};
const size = (e: EngineV2): number => e.scope(BENCH_SCOPE)?.store.size ?? 0;
const idle = (e: EngineV2): Promise<void> => e.scope(BENCH_SCOPE)?.ingest.idle() ?? Promise.resolve();

export async function benchMesh(): Promise<Record<string, number>> {
  const runs = QUICK ? 2 : 3;
  const perPeer = QUICK ? 100 : 300;
  const history = QUICK ? 500 : 2000;
  const steady: number[] = [];
  const connect: number[] = [];
  const steadyAll = { received: 0, duplicates: 0 };
  const connectAll = { received: 0, duplicates: 0 };
  for (let r = 0; r < runs; r++) {
    const es = await makeEnginesV2(3, { allWrite: true });
    const closers: Closer[] = [];
    try {
      for (let i = 0; i < history; i++) await es[0]!.commit(BENCH_SCOPE, payload(100, 900000 + i));
      const base0 = es.map(ingestOf);
      closers.push(await tcpStarV2(es[0]!, [es[1]!, es[2]!]));
      closers.push(await tcpStarV2(es[1]!, [es[2]!]));
      await Promise.all([joined(es[1]!, 30000), joined(es[2]!, 30000)]);
      for (const [a, b] of [[0, 1], [0, 2], [1, 2]] as const) {
        await subscribedV2(es[a]!, es[b]!, 30000);
        await subscribedV2(es[b]!, es[a]!, 30000);
      }
      await until(() => es.every((e) => size(e) >= history + 1), 60000, 'mesh bootstrap', 20);
      await Promise.all(es.map(idle));
      await sleep(500); // quiet: follow-up polls and re-subscriptions (via changes) settle
      const base = es.map(ingestOf);
      let rec0 = 0;
      let dup0 = 0;
      es.forEach((e, k) => {
        rec0 += base[k]!.received - base0[k]!.received;
        dup0 += base[k]!.duplicates - base0[k]!.duplicates;
      });
      connect.push(rec0 === 0 ? 0 : dup0 / rec0);
      connectAll.received += rec0;
      connectAll.duplicates += dup0;
      await Promise.all(
        es.map(async (e, k) => {
          for (let i = 0; i < perPeer; i++) {
            await e.commit(BENCH_SCOPE, payload(100, k * 100000 + i));
            if (i % 10 === 0) await sleep(1);
          }
        }),
      );
      await until(() => es.every((e) => size(e) >= history + 1 + 3 * perPeer), 30000, 'mesh convergence', 20);
      await sleep(300); // let in-flight pushes and repair polls land: they count too
      await Promise.all(es.map(idle));
      let rec = 0;
      let dup = 0;
      es.forEach((e, k) => {
        const now = ingestOf(e);
        rec += now.received - base[k]!.received;
        dup += now.duplicates - base[k]!.duplicates;
      });
      steady.push(rec === 0 ? 0 : dup / rec);
      steadyAll.received += rec;
      steadyAll.duplicates += dup;
    } finally {
      await teardownV2(es, closers);
    }
  }
  notes.push(`Mesh (v2, all runs): steady state ${steadyAll.duplicates} duplicates / ${steadyAll.received} received; connection phase ${connectAll.duplicates} / ${connectAll.received}.`);
  return {
    'mesh3.redundant_ratio': round(median(steady), 4),
    'mesh3.received': steadyAll.received,
    'mesh3.duplicates': steadyAll.duplicates,
    'mesh3.connect_redundant_ratio': round(median(connect), 4),
    'mesh3.connect_received': connectAll.received,
    'mesh3.connect_duplicates': connectAll.duplicates,
  };
}
