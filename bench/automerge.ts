/**
 * The same N commands (100-byte payloads) synced between two peers by Automerge's sync protocol
 * (generateSyncMessage / receiveSyncMessage until both are done, one change per command into a
 * list) and by syncwire's poll (two engines, `subscribe: false`, in-process memory link), cold
 * (B empty) and with concurrent edits (shared half, then a quarter new on each side).
 * Bytes and round trips count sync messages only (syncwire's handshake is reported apart);
 * time is from the start of sync until both hold everything. Ratios are syncwire / Automerge.
 * The memory links run `seal: 'off'`: this compares two sync protocols, and Automerge's messages
 * carry no transport security either (sealing adds 21 bytes a frame, measured by the seal suite);
 * it also keeps every frame readable here, where the bytes are classified by message type.
 */
import * as A from '@automerge/automerge';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { Engine } from '../agent/sync/engine.js';
import { decodeMessage } from '../protocol/envelope.js';
import { QUICK, makeEngines, median, payload, round, teardown, until } from './util.js';

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
  const [a, b] = makeEngines(2, { subscribe: false });
  try {
    const commitN = async (e: Engine, from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) await e.commit(payload(100, i));
    };
    if (!concurrent) await commitN(a!, 0, n);
    else {
      await commitN(a!, 0, n / 2);
      for (let h = 0; h < a!.store.size; h++) b!.store.append(decodeCommandAt(a!, h));
      await commitN(a!, n / 2, (3 * n) / 4);
      await commitN(b!, 1_000_000 + n / 2, 1_000_000 + (3 * n) / 4);
    }
    const total = concurrent ? n : n;
    const [la, lb] = createMemoryLinkPair({ seal: 'off' });
    let bytes = 0;
    let handshake = 0;
    let polls = 0;
    // Every frame either engine hands its link (`frame-out`; the link is unsealed: wire = message).
    for (const e of [a!, b!]) {
      e.on('frame-out', (_peer, _message, body) => {
        const t = decodeMessage(body).type;
        if (t === 'PollRequest' || t === 'PollResponse') bytes += body.length;
        else handshake += body.length;
        if (t === 'PollRequest') polls++;
      });
    }
    const t0 = performance.now();
    a!.attach(la);
    b!.attach(lb);
    await until(() => a!.store.size === total && b!.store.size === total, 60000, 'syncwire convergence', 1);
    const ms = performance.now() - t0;
    // Round trips: polls needed (each side polls the other; cold, A's poll finds nothing).
    return { bytes, roundTrips: concurrent ? polls / 2 : polls - 1, ms, handshake };
  } finally {
    await teardown([a!, b!], []);
  }
}

import { decodeCommand } from '../protocol/command.js';
function decodeCommandAt(e: Engine, h: number): ReturnType<typeof decodeCommand> {
  return decodeCommand(e.store.bytesOf(h));
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
