/** Test helpers: engines on memory stores wired by memory links, with fast pacing. */
import { Engine, type EngineOptions } from '../../agent/sync/engine.js';
import { MemoryStore } from '../../agent/store/memory-store.js';
import { createMemoryLinkPair, type MemoryLinkFaults } from '../../agent/memory-link.js';
import type { Link } from '../../agent/link.js';
import { generateIdentity, toHex, type Identity } from '../../protocol/keys.js';

/** Fast pacing so property runs converge in well under a second of wall time. */
export const FAST: Partial<EngineOptions> = {
  pollTimeoutMs: 150,
  // Memory links never come back once closed; lossy property runs must not close them.
  deadAfterTimeouts: 0,
  pollTimeoutMsPerByte: 0,
  pollHint: { minMs: 20, maxMs: 80 },
  subscribedPollS: 0.15,
  backoff: { baseMs: 20, capMs: 200, floorMs: 5, jitter: 0.2 },
  pollBucket: { capacity: 1000, perSecond: 1000 },
};

export function makeEngines(n: number, extra: Partial<EngineOptions> = {}): Engine[] {
  const ids: Identity[] = Array.from({ length: n }, () => generateIdentity());
  const keys = ids.map((i) => i.publicKey);
  return ids.map((identity) => new Engine({ identity, store: new MemoryStore(), trust: { mode: 'list', keys }, ...FAST, ...extra }));
}

export function connect(a: Engine, b: Engine, faults: MemoryLinkFaults = {}): [Link, Link] {
  const [la, lb] = createMemoryLinkPair(faults);
  a.attach(la);
  b.attach(lb);
  return [la, lb];
}

/** Sorted hex ids of every command in a store. */
export function graphOf(e: Engine): string[] {
  const out: string[] = [];
  for (let h = 0; h < e.store.size; h++) out.push(toHex(e.store.idOf(h)));
  return out.sort();
}

/** Wait until every engine holds the same graph, or the deadline passes. Returns whether they converged. */
export async function converge(engines: Engine[], timeoutMs = 8000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sizes = engines.map((e) => e.store.size);
    if (sizes.every((s) => s === sizes[0])) {
      const g = graphOf(engines[0]!).join();
      if (engines.every((e) => graphOf(e).join() === g)) return true;
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}
