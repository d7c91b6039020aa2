/**
 * Redundancy in a 3-peer mesh (triangle, TCP loopback) with concurrent writers: every peer
 * commits while the others do; afterwards, duplicates / received from each engine's ingest stats.
 */
import { MemoryStore } from '../agent/store/memory-store.js';
import { DEFAULT_BACKOFF } from '../agent/sync/pacing.js';
import { QUICK, makeEngines, median, payload, round, sleep, subscribed, tcpStar, teardown, until, type Closer } from './util.js';

export async function benchMesh(): Promise<Record<string, number>> {
  const runs = QUICK ? 2 : 3;
  const perPeer = QUICK ? 100 : 300;
  const ratios: number[] = [];
  let received = 0;
  let dups = 0;
  for (let r = 0; r < runs; r++) {
    // Engine default client pacing: the fast test pacing polls every ≤200 ms even while subscribed.
    const es = makeEngines(3, { backoff: DEFAULT_BACKOFF, pollHint: { minMs: 1000, maxMs: 30000 } });
    const closers: Closer[] = [];
    try {
      closers.push(await tcpStar(es[0]!, [es[1]!, es[2]!]));
      closers.push(await tcpStar(es[1]!, [es[2]!]));
      for (const [a, b] of [[0, 1], [0, 2], [1, 2]] as const) {
        await subscribed(es[a]!, es[b]!);
        await subscribed(es[b]!, es[a]!);
      }
      const base = es.map((e) => ({ ...e.ingest.stats }));
      await Promise.all(
        es.map(async (e, k) => {
          for (let i = 0; i < perPeer; i++) {
            await e.commit(payload(100, k * 100000 + i));
            if (i % 10 === 0) await sleep(1);
          }
        }),
      );
      await until(() => es.every((e) => e.store.size >= 3 * perPeer), 30000, 'mesh convergence', 20);
      await sleep(300); // let in-flight pushes land: they count too
      let rec = 0;
      let dup = 0;
      es.forEach((e, k) => {
        rec += e.ingest.stats.received - base[k]!.received;
        dup += e.ingest.stats.duplicates - base[k]!.duplicates;
      });
      received += rec;
      dups += dup;
      ratios.push(rec === 0 ? 0 : dup / rec);
      void MemoryStore;
    } finally {
      await teardown(es, closers);
    }
  }
  return { 'mesh3.redundant_ratio': round(median(ratios), 4), 'mesh3.received': received, 'mesh3.duplicates': dups };
}
