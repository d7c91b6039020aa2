/**
 * Redundancy in a 3-peer mesh (triangle, TCP loopback, engine default pacing) with concurrent
 * writers. Peer 0 starts with a history of H commands the others lack, so connecting includes a
 * bootstrap. Once all three are connected, subscribed to each other and caught up (and the
 * links quiet), the steady-state phase begins: every peer commits while the others do.
 * `mesh3.redundant_ratio` = duplicates / received from the engines' snapshot `ingest` counters over that
 * steady-state phase; `mesh3.connect_redundant_ratio` covers the connection phase (bootstrap).
 * Duplicates are attributed from each engine's `ingested` events (the IngestResult of each
 * batch says how many were already held): by delivery (push / poll) and by sending peer (the
 * command's author vs. a relaying peer).
 */
import type { Engine } from '../agent/sync/engine.js';
import { decodeCommand } from '../protocol/command.js';
import { toHex } from '../protocol/keys.js';
import { QUICK, makeEngines, median, notes, payload, round, sleep, subscribed, tcpStar, teardown, until, type Closer } from './util.js';

interface Tally {
  received: Record<string, number>;
  duplicates: Record<string, number>;
}

/** Tally received/duplicates by `${how}/${author|relay}` into `tally()`, from `e`'s `ingested` events. */
function attribute(e: Engine, authorOf: Map<string, string>, tally: () => Tally): void {
  e.on('ingested', (from, how, encoded, res) => {
    const t = tally();
    const rel = (bytes: Uint8Array): string => (authorOf.get(toHex(decodeCommand(bytes).author)) === from ? 'author' : 'relay');
    const kinds = encoded.map(rel);
    for (const k of kinds) t.received[`${how}/${k}`] = (t.received[`${how}/${k}`] ?? 0) + 1;
    // The batch result does not say which commands were duplicates: attribute by the batch's
    // dominant kind (batches are one kind in practice: a push or an answer from one peer).
    if (res.duplicates > 0) {
      const k = kinds.filter((x) => x === 'relay').length * 2 > kinds.length ? 'relay' : 'author';
      t.duplicates[`${how}/${k}`] = (t.duplicates[`${how}/${k}`] ?? 0) + res.duplicates;
    }
  });
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((s, x) => s + x, 0);
const fmt = (t: Tally): string =>
  Object.keys({ ...t.received, ...t.duplicates })
    .sort()
    .map((k) => `${k}: ${t.duplicates[k] ?? 0} dup / ${t.received[k] ?? 0} rec`)
    .join(', ');

export async function benchMesh(): Promise<Record<string, number>> {
  const runs = QUICK ? 2 : 3;
  const perPeer = QUICK ? 100 : 300;
  const history = QUICK ? 500 : 2000;
  const steady: number[] = [];
  const connect: number[] = [];
  const steadyAll: Tally = { received: {}, duplicates: {} };
  const connectAll: Tally = { received: {}, duplicates: {} };
  for (let r = 0; r < runs; r++) {
    const es = makeEngines(3);
    const authorOf = new Map(es.map((e) => [toHex(e.identity.author), e.peerId] as const));
    let phase: Tally = connectAll;
    for (const e of es) attribute(e, authorOf, () => phase);
    const closers: Closer[] = [];
    try {
      for (let i = 0; i < history; i++) await es[0]!.commit(payload(100, 900000 + i));
      const base0 = es.map((e) => e.snapshot().ingest);
      closers.push(await tcpStar(es[0]!, [es[1]!, es[2]!]));
      closers.push(await tcpStar(es[1]!, [es[2]!]));
      for (const [a, b] of [[0, 1], [0, 2], [1, 2]] as const) {
        await subscribed(es[a]!, es[b]!);
        await subscribed(es[b]!, es[a]!);
      }
      await until(() => es.every((e) => e.store.size >= history), 60000, 'mesh bootstrap', 20);
      await Promise.all(es.map((e) => e.idle()));
      await sleep(500); // quiet: follow-up polls and re-subscriptions (via changes) settle
      const base = es.map((e) => e.snapshot().ingest);
      let rec0 = 0;
      let dup0 = 0;
      es.forEach((e, k) => {
        rec0 += base[k]!.received - base0[k]!.received;
        dup0 += base[k]!.duplicates - base0[k]!.duplicates;
      });
      connect.push(rec0 === 0 ? 0 : dup0 / rec0);
      phase = steadyAll;
      await Promise.all(
        es.map(async (e, k) => {
          for (let i = 0; i < perPeer; i++) {
            await e.commit(payload(100, k * 100000 + i));
            if (i % 10 === 0) await sleep(1);
          }
        }),
      );
      await until(() => es.every((e) => e.store.size >= history + 3 * perPeer), 30000, 'mesh convergence', 20);
      await sleep(300); // let in-flight pushes and repair polls land: they count too
      await Promise.all(es.map((e) => e.idle()));
      let rec = 0;
      let dup = 0;
      es.forEach((e, k) => {
        const now = e.snapshot().ingest;
        rec += now.received - base[k]!.received;
        dup += now.duplicates - base[k]!.duplicates;
      });
      steady.push(rec === 0 ? 0 : dup / rec);
    } finally {
      await teardown(es, closers);
    }
  }
  notes.push(`Mesh duplicates by delivery/sender (all runs), steady state: ${fmt(steadyAll)}; connection phase: ${fmt(connectAll)}.`);
  return {
    'mesh3.redundant_ratio': round(median(steady), 4),
    'mesh3.received': sum(steadyAll.received),
    'mesh3.duplicates': sum(steadyAll.duplicates),
    'mesh3.duplicates_push': (steadyAll.duplicates['push/author'] ?? 0) + (steadyAll.duplicates['push/relay'] ?? 0),
    'mesh3.duplicates_poll': (steadyAll.duplicates['poll/author'] ?? 0) + (steadyAll.duplicates['poll/relay'] ?? 0),
    'mesh3.connect_redundant_ratio': round(median(connect), 4),
    'mesh3.connect_received': sum(connectAll.received),
    'mesh3.connect_duplicates': sum(connectAll.duplicates),
  };
}
