/**
 * The peer comparison's syncwire side (bench/automerge.ts): N commands (100-byte payloads)
 * synced by poll between two v2 engines, both writers of the bench scope, `subscribe: false`,
 * over an in-process memory link; cold (B empty: it joins the scope, its genesis comes with the
 * first answer) or concurrent (the first half reached B over an earlier link, then a quarter new
 * on each side). Bytes and round trips count poll messages only (handshake and scope opening
 * are per link and reported apart); time is from attaching the link until both hold everything.
 * The links run `seal: 'off'`: this compares sync protocols, and neither Automerge's nor Yjs's
 * messages carry transport security (the seal suite measures what sealing adds); it also keeps
 * every frame readable here, where the bytes are classified by message type.
 *
 * B is a device: engine setting `elide` on (it stores covered commands without their signatures,
 * PROTOCOL.md §10.7), A a gateway (off). `elide: false` runs B as a gateway too (every signature on
 * the wire), for the comparison.
 */
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import type { SyncCost } from './sync-cost.js';
import { payload, until, type Closer } from './util.js';
import { BENCH_SCOPE, makeEnginesV2, tcpStarV2, teardownV2 } from './v2-setup.js';

/**
 * One syncwire sync of `n` commands, cold or concurrent (see the module comment); `elide`: B is a
 * device (default true); `link`: the in-process memory link (default) or TCP loopback (the timed
 * part then includes the connection and handshake; the round trips count polls as always).
 */
export async function syncwireSync(n: number, concurrent: boolean, elide = true, link: 'memory' | 'tcp' = 'memory'): Promise<SyncCost> {
  const [a, b] = await makeEnginesV2(2, { tuning: { subscribe: false }, allWrite: true, elide: elide ? [1] : [] });
  const size = (e: EngineV2): number => e.scope(BENCH_SCOPE)?.store.size ?? 0;
  const closers: Closer[] = [];
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
    // What the sync has to move, at its canonical size: A's commands B lacks and B's A lacks.
    const storeA = a!.scope(BENCH_SCOPE)!.store;
    const storeB = b!.scope(BENCH_SCOPE)?.store;
    const shared = concurrent ? n / 2 + 1 : 0; // the genesis too
    let commandBytes = 0;
    for (let h = shared; h < storeA.size; h++) commandBytes += storeA.lengthOf(h);
    if (storeB) for (let h = shared; h < storeB.size; h++) commandBytes += storeB.lengthOf(h);
    const total = n + 1; // the genesis too
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
    if (link === 'tcp') closers.push(await tcpStarV2(a!, [b!], 'off'));
    else {
      const [la, lb] = createMemoryLinkPair({ seal: 'off' });
      a!.attach(la);
      b!.attach(lb);
    }
    await until(() => size(a!) === total && size(b!) === total, 60000, 'syncwire convergence', 1);
    const ms = performance.now() - t0;
    // Round trips: polls needed (each side polls the other; cold, A's poll finds nothing).
    return { bytes, roundTrips: concurrent ? polls / 2 : polls - 1, ms, handshake, commandBytes };
  } finally {
    await teardownV2([a!, b!], closers);
  }
}
