/**
 * Compact batches for the live layer of the protocol-v2 fuzzer (bench/chaos-v2-fuzz-live.ts,
 * issue 17): the hostile peers relay batches into the target's fleet scope under its right number
 * — fresh chains by a writer that has no engine (all signed: the target, without `elide`, must
 * store them; with elided `null` signatures: it must refuse the whole batch), replays of what the
 * target already holds, and both mutated. What the target made of them is read from its scope's
 * ingest counters and an audit of its store (bench/chaos-v2-batch.ts).
 */
import type { ScopeHost } from '../agent/sync/scope-host.js';
import { decodeCommandV2, encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { encodeBatch } from '../protocol/compact-batch.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { toHex, type Identity } from '../protocol/keys.js';
import { mutate } from '../testkit/fuzz-inputs.js';
import type { Prng } from '../testkit/prng.js';

/** How many recent batches {@link LiveBatchSource.pool} keeps as mutation material. */
const POOL = 32;

/** Batches of one scope the target holds, made while the live layer runs. */
export class LiveBatchSource {
  /** Recent genuine batches, mutated ones left out (the fuzz context's `batches`). */
  readonly pool: Uint8Array[] = [];
  /** Ids of the fresh commands sent in batches with every signature (the target may store these). */
  readonly signedFresh = new Set<string>();
  /** Batches sent, by kind. */
  readonly sent = { fresh_signed: 0, fresh_elided: 0, replay: 0, mutated: 0 };
  private seq = 0;
  private tip: Uint8Array | null = null;

  /**
   * @param host the target's scope host (read only: its store says what the target holds)
   * @param writer a writer of the scope with no engine of its own: its commands reach the target only through these batches
   */
  constructor(private readonly host: ScopeHost, private readonly writer: Identity, private readonly r: Prng) {}

  /** The next batch to send: fresh (half of them with elided signatures), a replay, or a mutated one. */
  next(): Uint8Array {
    const x = this.r.int(10);
    if (x >= 7 && this.pool.length > 0) return this.mutated();
    const b = x < 4 ? this.fresh(x < 2) : this.replay();
    if (this.pool.length < POOL) this.pool.push(b);
    else this.pool[this.r.int(POOL)] = b;
    return b;
  }

  /**
   * A chain of 1–8 new commands by the writer, on its last chain when the target stored it (else on
   * the genesis). `elided`: runs elided or no signature at all (toward a host without `elide` the
   * whole batch is refused); else every signature.
   */
  private fresh(elided: boolean): Uint8Array {
    const store = this.host.store;
    let parent = this.tip !== null && store.indexOf(this.tip) >= 0 ? this.tip : store.scopeId;
    const cmds: CommandV2[] = [];
    for (let i = 1 + this.r.int(8); i > 0; i--) {
      const c = encodeCommandV2(store.scopeId, { parents: [parent], author: this.writer.author, seq: ++this.seq, kind: CommandKind.Data, payload: this.r.bytes(16 + this.r.int(200)) }, this.writer.sign);
      cmds.push(c);
      parent = c.id;
    }
    const allElided = elided && this.r.chance(0.3);
    if (elided) this.sent.fresh_elided++;
    else {
      this.sent.fresh_signed++;
      for (const c of cmds) this.signedFresh.add(toHex(c.id));
      this.tip = parent;
    }
    return encodeBatch(cmds.map((command, i) => ({ command, elide: elided && (allElided || i < cmds.length - 1) })));
  }

  /** The target's last 1–12 retained commands (handle order is causal), as one batch, signatures kept. */
  private replay(): Uint8Array {
    const store = this.host.store;
    const cmds: CommandV2[] = [];
    for (let h = Math.max(store.base, store.size - 1 - this.r.int(12)); h < store.size; h++) {
      if (!store.isRetained(h) || store.kindOf(h) === CommandKind.Genesis) continue;
      cmds.push(decodeCommandV2(store.scopeId, store.bytesOf(h)));
    }
    if (cmds.length === 0) return this.fresh(false); // a genesis-only store
    this.sent.replay++;
    // More than 64 authors cannot happen here: the scope has three writers.
    return encodeBatch(cmds.map((command) => ({ command, elide: false })));
  }

  private mutated(): Uint8Array {
    this.sent.mutated++;
    return mutate(this.r, this.r.pick(this.pool), this.pool);
  }
}
