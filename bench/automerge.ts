/**
 * The same N commands (100-byte payloads) synced between two peers by Automerge's sync protocol
 * (generateSyncMessage / receiveSyncMessage until both are done, one change per command into a
 * list) and by syncwire's poll (two v2 engines, both writers of the bench scope, `subscribe:
 * false`, in-process memory link), cold (B empty: it joins the scope, its genesis comes with the
 * first answer) and with concurrent edits (shared half over an earlier link, then a quarter new
 * on each side). Bytes and round trips count poll messages only (syncwire's handshake and scope
 * opening are reported apart);
 * time is from the start of sync until both hold everything. Ratios are syncwire / Automerge.
 * The memory links run `seal: 'off'`: this compares two sync protocols, and Automerge's messages
 * carry no transport security either (sealing adds 21 bytes a frame, measured by the seal suite);
 * it also keeps every frame readable here, where the bytes are classified by message type.
 */
import * as A from '@automerge/automerge';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { QUICK, median, payload, round, until } from './util.js';
import { BENCH_SCOPE, makeEnginesV2, teardownV2 } from './v2-setup.js';

type Doc = { cmds: Uint8Array[] };
interface Cost { bytes: number; roundTrips: number; ms: number; handshake?: number }

function amAppend(d: A.Doc<Doc>, from: number, to: number): A.Doc<Doc> {
  for (let i = from; i < to; i++) d = A.change(d, (x) => void x.cmds.push(payload(100, i)));
  return d;
}

function amSync(a: A.Doc<Doc>, b: A.Doc<Doc>): Cost {
  let sa = A.initSyncState();
  let sb = A.initSyncState();
  let bytes = 0;
  let msgs = 0;
  const t0 = performance.now();
  for (;;) {
    let moved = false;
    const [nsa, ma] = A.generateSyncMessage(a, sa);
    sa = nsa;
    if (ma) {
      bytes += ma.length;
      msgs++;
      moved = true;
      [b, sb] = A.receiveSyncMessage(b, sb, ma);
    }
    const [nsb, mb] = A.generateSyncMessage(b, sb);
    sb = nsb;
    if (mb) {
      bytes += mb.length;
      msgs++;
      moved = true;
      [a, sa] = A.receiveSyncMessage(a, sa, mb);
    }
    if (!moved) break;
  }
  const ms = performance.now() - t0;
  if (a.cmds.length !== b.cmds.length) throw new Error('automerge did not converge');
  return { bytes, roundTrips: msgs / 2, ms };
}

function automerge(n: number, concurrent: boolean): Cost {
  let a = A.from<Doc>({ cmds: [] });
  let b = A.clone(a);
  if (!concurrent) {
    a = amAppend(a, 0, n);
  } else {
    a = amAppend(a, 0, n / 2);
    b = A.merge(b, a);
    a = amAppend(a, n / 2, (3 * n) / 4);
    b = amAppend(b, 1_000_000 + n / 2, 1_000_000 + (3 * n) / 4);
  }
  return amSync(a, b);
}

async function syncwire(n: number, concurrent: boolean): Promise<Cost> {
  const [a, b] = await makeEnginesV2(2, { tuning: { subscribe: false }, allWrite: true });
  const size = (e: EngineV2): number => e.scope(BENCH_SCOPE)?.store.size ?? 0;
  try {
    const commitN = async (e: EngineV2, from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) await e.commit(BENCH_SCOPE, payload(100, i));
    };
    if (!concurrent) await commitN(a!, 0, n);
    else {
      // The shared half (and the scope itself) reach B over a first link, closed before the timed sync.
      await commitN(a!, 0, n / 2);
      const [pa, pb] = createMemoryLinkPair({ seal: 'off' });
      a!.attach(pa);
      b!.attach(pb);
      await until(() => b!.scope(BENCH_SCOPE)?.joining === false && size(b!) === size(a!), 60000, 'shared half', 1);
      await pa.close();
      await until(() => a!.sessions().length === 0 && b!.sessions().length === 0, 10000, 'first link down', 1);
      await commitN(a!, n / 2, (3 * n) / 4);
      await commitN(b!, 1_000_000 + n / 2, 1_000_000 + (3 * n) / 4);
    }
    const total = n + 1; // the genesis too
    const [la, lb] = createMemoryLinkPair({ seal: 'off' });
    let bytes = 0;
    let handshake = 0;
    let polls = 0;
    // Every frame either engine hands its link (`frame-out`; the link is unsealed: wire = message).
    // Scope opening (`Scopes`, `ScopesAck`) is per link like the handshake, and counted with it.
    for (const e of [a!, b!]) {
      e.on('frame-out', (_peer, _message, body) => {
        const t = decodeMessageV2(body).type;
        if (t === 'PollRequest' || t === 'PollResponse') bytes += body.length;
        else handshake += body.length;
        if (t === 'PollRequest') polls++;
      });
    }
    const t0 = performance.now();
    a!.attach(la);
    b!.attach(lb);
    await until(() => size(a!) === total && size(b!) === total, 60000, 'syncwire convergence', 1);
    const ms = performance.now() - t0;
    // Round trips: polls needed (each side polls the other; cold, A's poll finds nothing).
    return { bytes, roundTrips: concurrent ? polls / 2 : polls - 1, ms, handshake };
  } finally {
    await teardownV2([a!, b!], []);
  }
}

export async function benchAutomerge(): Promise<Record<string, number>> {
  const n = QUICK ? 400 : 2000;
  const runs = QUICK ? 2 : 3;
  const out: Record<string, number> = {};
  automerge(100, false);
  await syncwire(100, false);
  for (const [name, conc] of [['cold', false], ['concurrent', true]] as const) {
    const am: Cost[] = [];
    const sw: Cost[] = [];
    for (let r = 0; r < runs; r++) {
      am.push(automerge(n, conc));
      sw.push(await syncwire(n, conc));
    }
    const med = (xs: Cost[], k: keyof Cost): number => median(xs.map((x) => x[k] ?? 0));
    out[`automerge.${name}.syncwire_bytes`] = med(sw, 'bytes');
    out[`automerge.${name}.automerge_bytes`] = med(am, 'bytes');
    out[`automerge.${name}.syncwire_round_trips`] = med(sw, 'roundTrips');
    out[`automerge.${name}.automerge_round_trips`] = med(am, 'roundTrips');
    out[`automerge.${name}.syncwire_ms`] = round(med(sw, 'ms'), 1);
    out[`automerge.${name}.automerge_ms`] = round(med(am, 'ms'), 1);
    out[`automerge.${name}.syncwire_handshake_bytes`] = med(sw, 'handshake');
    if (name === 'cold') {
      out['automerge.bytes_ratio'] = round(med(sw, 'bytes') / med(am, 'bytes'), 3);
      out['automerge.round_trips'] = round(med(sw, 'roundTrips') / med(am, 'roundTrips'), 3);
      out['automerge.time_ratio'] = round(med(sw, 'ms') / med(am, 'ms'), 3);
    } else {
      out['automerge.concurrent.bytes_ratio'] = round(med(sw, 'bytes') / med(am, 'bytes'), 3);
      out['automerge.concurrent.round_trips_ratio'] = round(med(sw, 'roundTrips') / med(am, 'roundTrips'), 3);
      out['automerge.concurrent.time_ratio'] = round(med(sw, 'ms') / med(am, 'ms'), 3);
    }
  }
  out['automerge.commands'] = n;
  return out;
}
