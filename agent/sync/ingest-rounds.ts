/**
 * The acceptance rounds of one scope's pipeline (docs/design/v2-scopes.md §2.3, §4.4, §4.6): a
 * decoded batch is placed in waves so that signatures still verify in parallel. Every command
 * whose parents are held, or are data commands judged earlier in the same wave, is judged and
 * verified together; children of a membership command of the batch wait for the next wave (their
 * F needs it in the graph). Verdicts are by causal past only, so a wave's members never affect
 * each other's verdicts; a child of a command that then fails verification becomes an orphan, as
 * in v1. `ScopeIngest` (ingest-v2.ts) decodes, applies the join rule and serialises the rounds.
 */
import type { CommandV2 } from '../../protocol/command-v2.js';
import { equalBytes } from '../../protocol/bytes.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import type { ReasonName } from '../../protocol/errors.js';
import { toHex } from '../../protocol/keys.js';
import type { Frontier, ParentFacts } from '../../protocol/membership.js';
import type { HorizonEntry, ScopeStore } from '../store/scope-store-contract.js';
import type { IngestV2Result, IngestV2Stats } from './ingest-v2-types.js';
import type { OrphanBufferV2 } from './orphans-v2.js';
import type { PendingRecords, ScopeMembership } from './scope-membership.js';
import { verifyWave } from './verify-wave.js';

/** A decoded command of a batch and the peer it came from. */
export interface Item {
  cmd: CommandV2;
  from: string;
  /** Set by a compact batch (ingest-v2-batch.ts): authenticated by a cover verified under this key; its own signature is skipped when membership names the same key. */
  coveredKey?: Uint8Array;
}
interface Judged extends Item {
  frontier: Frontier;
  records: HorizonEntry[];
  key: Uint8Array;
}

/** The rounds of one scope: judge, verify, append and release orphans. @internal owned by `ScopeIngest` */
export class IngestRounds {
  private readonly scopeHex: string;
  /** This run's items: a covered one's cover key is kept when its copy waiting as an orphan is released in the run. */
  private runItems: readonly Item[] = [];
  /** Exact key → cover key of {@link runItems}, built on the first release (rare: most runs release nothing). */
  private covered: Map<string, Uint8Array> | null = null;
  /** Held commands of this run parked as orphans: dropped at its end unless released in it. */
  private heldWaiting: CommandV2[] = [];
  /** The author last appended and its hex (a batch is mostly one author's runs). */
  private lastAuthor: Uint8Array | null = null;
  private lastAuthorHex = '';

  constructor(
    private readonly store: ScopeStore,
    private readonly m: ScopeMembership,
    private readonly orphans: OrphanBufferV2,
    private readonly stats: IngestV2Stats,
    /** Highest `seq` known per author (hex), shared with the commit path. */
    private readonly seqs: Map<string, number>,
  ) {
    this.scopeHex = toHex(store.scopeId);
  }

  /** Count a rejection in the batch result and the totals. */
  reject(r: IngestV2Result, reason: ReasonName): void {
    r.rejected[reason] = (r.rejected[reason] ?? 0) + 1;
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
  }

  private duplicate(r: IngestV2Result): void {
    r.duplicates++;
    this.stats.duplicates++;
  }

  private orphan(r: IngestV2Result, it: Item, missing: readonly Uint8Array[]): void {
    this.orphans.add(this.scopeHex, it.cmd, it.from, missing);
    if (it.cmd.signature === null) {
      // Held (no signature): authenticated only by its cover in this message, so it waits only
      // until the end of this run (a parent placed later in the run releases it), then is
      // dropped as uncovered (C3: nothing unverified outlives the message).
      this.heldWaiting.push(it.cmd);
      return;
    }
    r.orphaned++;
    this.stats.orphaned++;
  }

  /**
   * Held here, pruned here (a horizon entry: never taken back) or already waiting. A waiting copy
   * that `pending` now resolves a missing parent of is taken out of the buffer and judged again
   * (else the records of the answer that resends it would never be used, and it would wait for good).
   */
  private known(cmd: CommandV2, pending: PendingRecords | undefined): boolean {
    if (this.store.indexOf(cmd.id) >= 0 || this.store.horizonEntry(cmd.id) !== undefined) return true;
    const missing = this.orphans.missingOf(this.scopeHex, cmd);
    if (missing === undefined) return false;
    if (pending === undefined || !missing.some((id) => pending(id) !== undefined)) return true;
    this.orphans.remove(this.scopeHex, cmd);
    return false;
  }

  /**
   * The batch, then the orphans received from `from` that `pending` resolves a missing parent of
   * (§4.6: records resolve parents of this (link, scope) only; they are adopted only if such an
   * orphan is then placed). An orphan whose exact copy is in the batch is judged once, as that copy.
   */
  private withRetried(items: Item[], from: string, pending: PendingRecords | undefined): Item[] {
    if (pending === undefined) return items;
    const retried = this.orphans.takeResolved(this.scopeHex, from, (id) => pending(id) !== undefined);
    if (retried.length === 0) return items;
    const inBatch = new Set(items.map((it) => exactKey(it.cmd)));
    return [...items, ...retried.filter((o) => !inBatch.has(exactKey(o.cmd))).map((o) => ({ cmd: o.cmd, from: o.from }))];
  }

  /**
   * Place a decoded batch received from `from` in waves (module doc), with the waiting orphans of
   * `from` that `pending` now resolves; `pending` is used (and adopted) only for commands from
   * `from`. The caller serialises calls. Store failures reject.
   */
  async run(items: Item[], from: string, pending: PendingRecords | undefined, r: IngestV2Result): Promise<void> {
    this.runItems = items;
    this.covered = null;
    this.heldWaiting = [];
    try {
      await this.waves(items, from, pending, r);
    } finally {
      for (const c of this.heldWaiting) {
        if (!this.orphans.remove(this.scopeHex, c)) continue;
        r.uncovered = (r.uncovered ?? 0) + 1;
        this.stats.batches.uncovered++;
      }
      this.heldWaiting = [];
      this.runItems = [];
      this.covered = null;
    }
  }

  /** An orphan released during the run, with the cover key its copy of this run carried. */
  private released(o: { cmd: CommandV2; from: string }): Item {
    this.covered ??= new Map(this.runItems.flatMap((it) => (it.coveredKey === undefined ? [] : [[exactKey(it.cmd), it.coveredKey] as const])));
    const key = this.covered.get(exactKey(o.cmd));
    return key === undefined ? { cmd: o.cmd, from: o.from } : { cmd: o.cmd, from: o.from, coveredKey: key };
  }

  private async waves(items: Item[], from: string, pending: PendingRecords | undefined, r: IngestV2Result): Promise<void> {
    let list = this.withRetried(items, from, pending);
    const pruned = new Map<string, HorizonEntry>();
    const lookup = (it: Item): PendingRecords => (id) => pruned.get(toHex(id)) ?? (it.from === from ? pending?.(id) : undefined);
    while (list.length > 0) {
      const remaining = new Map<string, number>();
      const todo: Item[] = [];
      const hexes: string[] = [];
      // By id first: an exact repeat (same id and signature) is rare, so the signature is compared only then.
      const seen = new Map<string, CommandV2[]>();
      for (const it of list) {
        const k = toHex(it.cmd.id);
        const same = seen.get(k);
        if (same?.some((c) => sameSignature(c, it.cmd)) === true || this.known(it.cmd, it.from === from ? pending : undefined)) {
          this.duplicate(r);
          continue;
        }
        if (same === undefined) seen.set(k, [it.cmd]);
        else same.push(it.cmd);
        todo.push(it);
        hexes.push(k);
        remaining.set(k, (remaining.get(k) ?? 0) + 1);
      }
      const done = (k: string): void => {
        const n = (remaining.get(k) ?? 1) - 1;
        if (n <= 0) remaining.delete(k);
        else remaining.set(k, n);
      };
      const wave: Judged[] = [];
      const next: Item[] = [];
      const virtual = new Map<string, ParentFacts>();
      // A parent is most often the item just before (a chain): its hex is known, and comparing
      // 32 bytes costs far less than hex-encoding them.
      let at = 0;
      const hexOf = (id: Uint8Array): string => (at > 0 && equalBytes(id, todo[at - 1]!.cmd.id) ? hexes[at - 1]! : toHex(id));
      const extra = (id: Uint8Array): ParentFacts | undefined => virtual.get(hexOf(id));
      for (let i = 0; i < todo.length; i++) {
        const it = todo[i]!;
        const c = it.cmd;
        const k = hexes[i]!;
        at = i;
        if (remaining.size > 1 && c.parents.some((p) => {
          const ph = hexOf(p);
          return remaining.has(ph) && !virtual.has(ph);
        })) {
          next.push(it); // a parent of this batch is not judged yet, or is a membership command
          continue;
        }
        const fr = this.m.frontierForParents(this.store, c.parents, extra, lookup(it));
        if (!fr.ok) {
          this.orphan(r, it, fr.missing);
          done(k);
          continue;
        }
        const v = this.m.graph.check({ id: c.id, kind: c.kind, author: c.author, frontier: fr.frontier, payload: c.payload });
        if (!v.ok) {
          this.reject(r, v.reason);
          done(k);
          continue;
        }
        // Built field by field: a spread of items of two shapes (with and without a cover key) took V8's slow path.
        wave.push({ cmd: c, from: it.from, coveredKey: it.coveredKey, frontier: fr.frontier, records: fr.records, key: v.key });
        if (c.kind === CommandKind.Data) virtual.set(k, { id: c.id, membership: false, frontier: fr.frontier });
      }
      // A covered command whose cover was verified under the key membership names needs no check of its own.
      const checks = wave.filter((j) => j.coveredKey === undefined || !equalBytes(j.coveredKey, j.key));
      const oks = await verifyWave(checks);
      const bad = new Set(checks.filter((_, i) => !oks[i]));
      for (let i = 0; i < wave.length; i++) {
        const j = wave[i]!;
        if (bad.has(j)) this.reject(r, 'BadSignature');
        else {
          const adopting = this.place(j, r, next, pruned);
          if (adopting !== undefined) await adopting; // only when records were adopted: no microtask per command
        }
      }
      list = next;
    }
  }

  /**
   * Append one judged and verified command; its released orphans join `next`. A command this
   * store pruned is not taken back (a duplicate), but a responder that does not know that sends
   * it, not a record, as the parent of its children (§4.5: it is in T): its id, depth and F
   * (computed here) then serve the rest of the run like a record, in `pruned`, so a placed child
   * adopts it as a horizon entry and the children waiting for it are released.
   */
  private place(j: Judged, r: IngestV2Result, next: Item[], pruned: Map<string, HorizonEntry>): Promise<void> | undefined {
    const c = j.cmd;
    if (this.store.indexOf(c.id) >= 0) {
      this.duplicate(r);
      return undefined;
    }
    const recs = j.records.length === 0 ? NO_RECORDS : new Map(j.records.map((e) => [toHex(e.id), e]));
    const lost = c.parents.filter((p) => this.store.indexOf(p) < 0 && this.store.horizonEntry(p) === undefined && !recs.has(toHex(p)));
    if (lost.length > 0) {
      this.orphan(r, j, lost); // a parent of the batch failed its own checks
      return undefined;
    }
    if (recs.size > 0) {
      const adopt = c.parents.map((p) => recs.get(toHex(p))).filter((e): e is HorizonEntry => e !== undefined && this.store.horizonEntry(e.id) === undefined);
      if (adopt.length > 0) return this.store.adopt(adopt).then(() => this.appendPlaced(j, recs, r, next, pruned));
    }
    this.appendPlaced(j, recs, r, next, pruned);
    return undefined;
  }

  /** The append of {@link place}, once its records are adopted. */
  private appendPlaced(j: Judged, recs: ReadonlyMap<string, HorizonEntry>, r: IngestV2Result, next: Item[], pruned: Map<string, HorizonEntry>): void {
    const c = j.cmd;
    const h = this.store.append(c, { frontier: this.m.refOf(j.frontier) });
    if (h < 0) {
      if (c.kind === CommandKind.Data && this.store.indexOf(c.id) < 0 && this.store.horizonEntry(c.id) === undefined) {
        pruned.set(toHex(c.id), { id: c.id.slice(), depth: this.depthOver(c.parents, recs, pruned), frontier: this.m.graph.idsOf(j.frontier) });
        for (const o of this.orphans.release(this.scopeHex, c.id)) next.push(this.released(o));
      }
      return this.duplicate(r);
    }
    r.appended.push(h);
    this.stats.appended++;
    if (this.lastAuthor === null || !equalBytes(c.author, this.lastAuthor)) {
      this.lastAuthor = c.author;
      this.lastAuthorHex = toHex(c.author);
    }
    const a = this.lastAuthorHex;
    const top = this.seqs.get(a);
    if (top !== undefined && c.seq > top) this.seqs.set(a, c.seq);
    if (c.kind !== CommandKind.Data) {
      this.m.add(c, j.frontier);
      r.membership.push(h);
    }
    for (const o of this.orphans.release(this.scopeHex, c.id)) next.push(this.released(o));
  }

  /** 1 + the largest depth of `parents` (held, horizon entries, the command's records, `pruned`), as the store counts it. */
  private depthOver(parents: readonly Uint8Array[], recs: ReadonlyMap<string, HorizonEntry>, pruned: ReadonlyMap<string, HorizonEntry>): number {
    let top = 0;
    for (const p of parents) {
      const h = this.store.indexOf(p);
      const k = toHex(p);
      const d = h >= 0 ? this.store.depthOf(h) : (this.store.horizonEntry(p) ?? recs.get(k) ?? pruned.get(k))?.depth ?? 0;
      top = Math.max(top, d);
    }
    return top + 1;
  }
}

const NO_RECORDS: ReadonlyMap<string, HorizonEntry> = new Map();

/** A command's exact bytes as a key: id and signature (a forged copy has the id, not the signature; a held one has none). */
function exactKey(cmd: CommandV2): string {
  return `${toHex(cmd.id)}:${cmd.signature === null ? 'held' : toHex(cmd.signature)}`;
}

/** Whether two commands of the same id carry the same signature (both held counts as the same). */
function sameSignature(a: CommandV2, b: CommandV2): boolean {
  return a.signature === null || b.signature === null ? a.signature === b.signature : equalBytes(a.signature, b.signature);
}
